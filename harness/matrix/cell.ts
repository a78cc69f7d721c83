import type { Instance } from '../datasource/instance.ts';
import type { Expectations } from '../probes/expectations.ts';
import type { ProbeVerdict } from '../probes/verdict.ts';

/** The contract between the planner (cases → cells) and the cell runner (cell → VM → verdicts). */

export const DATASOURCE_KINDS = ['configdrive-iso9660', 'configdrive-vfat', 'metadata-openstack', 'metadata-ec2'] as const;
export type DatasourceKind = (typeof DATASOURCE_KINDS)[number];
export type Imdsv2Mode = 'off' | 'optional' | 'required';

/** One matrix cell: one image booted once with one datasource and one network layout. */
export interface CellSpec {
  /** Stable, unique, path-safe: `<case>/<image>/<datasource>/<network>`. */
  id: string;
  caseName: string;
  image: string;
  datasource: DatasourceKind;
  imdsv2: Imdsv2Mode;
  /** Label of the network layout (dhcp, static, multi-nic-dhcp, …); the NICs themselves are in instance.nics. */
  network: string;
  /** Resolved instance, with this run's generated key and password already substituted. */
  instance: Instance;
  expectations: Expectations;
  /** Values never to be written to reports or logs (passwords). */
  secrets: string[];
}

export type ReadinessStage = 'process' | 'kernel' | 'ssh-banner' | 'ssh-login' | 'cloud-init' | 'probes' | 'done';

export interface CellResult {
  id: string;
  cell: Omit<CellSpec, 'secrets'>;
  /** pass: every verdict pass or n/a; fail: some verdict failed; error: never reached the probes. */
  outcome: 'pass' | 'fail' | 'error';
  verdicts: ProbeVerdict[];
  /** Last readiness stage reached; on error, the stage that failed. */
  stage: ReadinessStage;
  error?: { stage: ReadinessStage; message: string; hint?: string; consoleTail?: string };
  accel: { use: 'kvm' | 'tcg'; reason: string };
  /** Milliseconds from QEMU start to each stage reached, plus total. */
  timings: Partial<Record<ReadinessStage, number>> & { totalMs: number };
  /** Directory of this cell's artifacts (serial log, cloud-init logs, status JSON, metadata log…). */
  artifactsDir: string;
  /** Relative artifact paths, by kind. */
  artifacts: Record<string, string>;
}
