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
  'user-data-schema',
  'datasource',
  'metadata-requests',
  'metadata-path',
] as const;

export type ProbeName = (typeof PROBE_NAMES)[number];

/**
 * What a cell meant to fail is judged on, from the serial console and the metadata agent's log
 * (SSH may be impossible there): the three failure modes a case can expect, and the NICs' state
 * in cloud-init's "Net device info" table.
 */
export const CONSOLE_CHECK_NAMES = ['metadata-unreachable', 'no-datasource', 'hostname-not-from-metadata', 'nic-state'] as const;
export type ConsoleCheckName = (typeof CONSOLE_CHECK_NAMES)[number];

/**
 * Judged on every cell that booted, from the whole serial console: no kernel panic, oops, BUG,
 * emergency mode, OOM kill or segfault (harness/probes/console-health.ts).
 */
export const HEALTH_CHECK_NAMES = ['console-health'] as const;
export type HealthCheckName = (typeof HEALTH_CHECK_NAMES)[number];

/** Every name a verdict can carry: a probe over SSH, a console check or the console's health. */
export const VERDICT_NAMES = [...PROBE_NAMES, ...CONSOLE_CHECK_NAMES, ...HEALTH_CHECK_NAMES] as const;
export type VerdictName = ProbeName | ConsoleCheckName | HealthCheckName;

/**
 * pass / fail: what the probe saw in the guest; n/a: the probe does not apply to this image or
 * scenario; error: the harness could not look (lost SSH, a timeout, output it could not read) —
 * never a judgement of the guest.
 */
export type VerdictStatus = 'pass' | 'fail' | 'n/a' | 'error';

/** What one probe concluded about one VM, with the evidence it saw (commands and their output). */
export interface ProbeVerdict {
  probe: VerdictName;
  status: VerdictStatus;
  /** One line a person reads first: why it passed, failed or does not apply. */
  summary: string;
  expected?: unknown;
  observed?: unknown;
  /** Raw evidence: command → output, file → content. Secrets are redacted before this is filled. */
  evidence?: Record<string, string>;
  durationMs?: number;
}
