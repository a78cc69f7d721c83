/**
 * The vocabulary shared by images (capability profiles), probes, the matrix and reports.
 * Data flows one way, so this file imports nothing from the harness.
 */
export const PROBE_NAMES = [
  'hostname',
  'etc-hosts',
  'authorized-keys',
  'password-login',
  'timezone',
  'runcmd',
  'nic-mode',
  'multi-nic',
  'clean-boot',
  'datasource',
  'metadata-requests',
  'metadata-path',
] as const;

export type ProbeName = (typeof PROBE_NAMES)[number];

/**
 * pass / fail: what the probe saw in the guest; n/a: the probe does not apply to this image or
 * scenario; error: the harness could not look (lost SSH, a timeout, output it could not read) —
 * never a judgement of the guest.
 */
export type VerdictStatus = 'pass' | 'fail' | 'n/a' | 'error';

/** What one probe concluded about one VM, with the evidence it saw (commands and their output). */
export interface ProbeVerdict {
  probe: ProbeName;
  status: VerdictStatus;
  /** One line a person reads first: why it passed, failed or does not apply. */
  summary: string;
  expected?: unknown;
  observed?: unknown;
  /** Raw evidence: command → output, file → content. Secrets are redacted before this is filled. */
  evidence?: Record<string, string>;
  durationMs?: number;
}
