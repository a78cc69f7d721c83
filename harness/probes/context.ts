import type { ExecResult } from '../ssh/client.ts';
import type { Expectations } from '../model/expectations.ts';
import type { ProbeName, ProbeVerdict } from '../model/probe.ts';

/** One request the metadata service saw for this instance. */
export interface MetadataRequest {
  method: string;
  path: string;
  status: number;
}

/**
 * What a probe may use. The cell runner builds it from the booted VM; probes know nothing of
 * QEMU, so the data flows one way (VM → probes).
 */
export interface ProbeContext {
  /** Runs a shell command in the guest as the login user; `root: true` wraps it in sudo when needed. */
  exec(command: string, opts?: { root?: boolean; timeoutMs?: number }): Promise<ExecResult>;
  /** The forwarded SSH endpoint, for probes that open their own connections (password login). */
  ssh: { host: string; port: number; user: string };
  image: {
    /** Probes that do not apply to this image, with the reason (the manifest's capability profile). */
    notApplicable: Partial<Record<ProbeName, string>>;
    nicModes: ('dhcp' | 'static')[];
    networkRenderer: 'eni' | 'netplan' | 'none';
  };
  expectations: Expectations;
  /** `cloud-init status --wait --format=json` as the boot's last stage saw it. */
  cloudInitStatus?: { exitCode: number | null; raw: string; json?: Record<string, unknown> };
  /** Requests the metadata service logged for this instance (metadata-service runs only). */
  metadataRequests?: () => MetadataRequest[];
}

/** Collects command → output evidence for one probe. */
export class Evidence {
  readonly items: Record<string, string> = {};

  async run(ctx: ProbeContext, command: string, opts: { root?: boolean } = {}): Promise<ExecResult> {
    const r = await ctx.exec(command, opts);
    const out = `${r.stdout}${r.stderr ? `${r.stdout && !r.stdout.endsWith('\n') ? '\n' : ''}[stderr] ${r.stderr}` : ''}`;
    this.items[`$ ${command}`] = `${out.trimEnd()}${r.code === 0 ? '' : `\n[exit ${r.code ?? r.signal ?? 'none'}]`}`;
    return r;
  }

  note(key: string, value: string): void {
    this.items[key] = value;
  }
}

export function verdict(
  probe: ProbeName,
  status: ProbeVerdict['status'],
  summary: string,
  extra: { expected?: unknown; observed?: unknown; evidence?: Evidence } = {},
): ProbeVerdict {
  return {
    probe,
    status,
    summary,
    ...(extra.expected !== undefined ? { expected: extra.expected } : {}),
    ...(extra.observed !== undefined ? { observed: extra.observed } : {}),
    ...(extra.evidence ? { evidence: extra.evidence.items } : {}),
  };
}

/** n/a when the image's capability profile excludes the probe or the scenario expects nothing. */
export function notApplicable(probe: ProbeName, ctx: ProbeContext, expectation: unknown): ProbeVerdict | undefined {
  const why = ctx.image.notApplicable[probe];
  if (why) return verdict(probe, 'n/a', `not applicable to this image: ${why}`);
  if (expectation === undefined || (Array.isArray(expectation) && expectation.length === 0)) {
    return verdict(probe, 'n/a', 'the scenario expects nothing here');
  }
  return undefined;
}
