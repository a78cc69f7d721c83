import type { Instance } from './instance.ts';
import type { DatasourceKind, Imdsv2Mode } from './datasources.ts';
import type { Expectations } from './expectations.ts';
import type { NetworkBackendKind } from './networks.ts';
import type { ProbeVerdict } from './probe.ts';
import type { TopologySpec } from './topology.ts';

/** The contract between the planner (cases → cells), the cell runner (cell → VM → verdicts) and the reports. */

export { DATASOURCE_KINDS, type DatasourceKind, type Imdsv2Mode } from './datasources.ts';

/** What happens to a VM (and its work dir) after its probes: held for ssh until Ctrl-C, or stopped. */
export const KEEP_MODES = ['on-failure', 'always', 'never'] as const;
export type KeepMode = (typeof KEEP_MODES)[number];

/** Where a cell sits in the matrix; a cell id is `<case>/<image>/<datasource label>/<network>`. */
export interface CellCoordinates {
  /** Stable, unique, path-safe: `<case>/<image>/<datasourceLabel>/<network>`. */
  id: string;
  caseName: string;
  image: string;
  datasource: DatasourceKind;
  /** The datasource as the case names it in ids and excludes, e.g. `metadata-ec2-imdsv2-required`. */
  datasourceLabel: string;
  /** Label of the network layout (dhcp, static, multi-nic-dhcp, …); the NICs themselves are in instance.nics. */
  network: string;
}

/**
 * A cloud-init package of the user's own (a case's `cloud_init_deb`), installed over the
 * archive's in a derived build of the cell's image (harness/images/cloud-init-deb.ts).
 */
export interface CloudInitPackage {
  /** Absolute path of the .deb. */
  file: string;
  sha256: string;
  /** Its Version field, which the build checks was installed. */
  version: string;
}

/** One matrix cell: one image booted once with one datasource and one network layout. */
export interface CellSpec extends CellCoordinates {
  /** Boot a derived build of the image with this cloud-init package instead of the image's own. */
  cloudInitDeb?: CloudInitPackage;
  imdsv2: Imdsv2Mode;
  /** How the NICs reach the host (harness/model/networks.ts). */
  networkBackend: NetworkBackendKind;
  /** The neutron backend's networks, routers and this instance's ports (as a user created them). */
  topology?: TopologySpec;
  /** Resolved instance, with this run's generated key and password already substituted. */
  instance: Instance;
  expectations: Expectations;
  /** Values never to be written to reports or logs (passwords). */
  secrets: string[];
}

/** A cell the planner (or an interrupted run) left out, with the reason the report shows. */
export interface SkippedCell extends CellCoordinates {
  reason: string;
  /** Why: the image cannot do it (capability profile), its image is not here, or the run was interrupted. */
  kind: 'inapplicable' | 'unavailable' | 'cancelled';
}

export interface Plan {
  cells: CellSpec[];
  skipped: SkippedCell[];
}

export function coordinatesOf(c: CellCoordinates): CellCoordinates {
  return { id: c.id, caseName: c.caseName, image: c.image, datasource: c.datasource, datasourceLabel: c.datasourceLabel, network: c.network };
}

export const READINESS_STAGES = ['process', 'kernel', 'ssh-banner', 'ssh-login', 'cloud-init', 'probes', 'done'] as const;
export type ReadinessStage = (typeof READINESS_STAGES)[number];

/**
 * One moment of a cell's boot, in ms from QEMU's start: what the harness saw (kernel banner, SSH
 * banner, login, cloud-init done, probes done, done) and the cloud-init stages the guest's console
 * announced, placed by the guest's uptime from the kernel banner (harness/run/timeline.ts).
 */
export interface TimelineMark {
  /** A readiness stage (harness) or `cloud-init <stage>` / `cloud-init finished` (guest console). */
  label: string;
  atMs: number;
  from: 'harness' | 'console';
}

export interface CellResult {
  id: string;
  cell: Omit<CellSpec, 'secrets'>;
  /**
   * pass: every verdict pass or n/a; fail: some verdict failed (the guest did something wrong);
   * error: the harness could not look — the boot never reached the probes, or a probe could not
   * run (lost SSH, a timeout). A cell with both a failed and an errored probe is `fail`: what was
   * seen to be wrong is reported first.
   */
  outcome: 'pass' | 'fail' | 'error';
  verdicts: ProbeVerdict[];
  /** Last readiness stage reached; on error, the stage that failed. */
  stage: ReadinessStage;
  error?: { stage: ReadinessStage; message: string; hint?: string; consoleTail?: string };
  accel: { use: 'kvm' | 'tcg'; reason: string };
  /** The cloud-init release the guest really ran (from its console), when it ran one. */
  cloudInitVersion?: string;
  /** Milliseconds from QEMU start to each stage reached, plus total. */
  timings: Partial<Record<ReadinessStage, number>> & { totalMs: number };
  /** Directory of this cell's artifacts (serial log, cloud-init logs, status JSON, metadata log…). */
  artifactsDir: string;
  /** Relative artifact paths, by kind. */
  artifacts: Record<string, string>;
  /** The boot drawn as a bar in the HTML report, marks in time order (absent when QEMU never started). */
  timeline?: TimelineMark[];
  /** QEMU's peak resident memory (VmHWM) for this cell's VM, MiB, read just before it stopped. */
  qemuPeakRssMiB?: number;
  /** Set when --keep held the VM: how to reach it while it ran. */
  kept?: { sshCommand?: string; workDir?: string };
  /**
   * Earlier tries of this cell that ended in `error` (the harness could not look) and were run
   * again: named in every report, never hidden. The outcome above is the last try's.
   */
  retriedAfter?: CellAttempt[];
}

/** A try of a cell that ended in error, kept when the cell was run again. */
export interface CellAttempt {
  stage: ReadinessStage;
  error?: CellResult['error'];
  /** Verdicts that could not run (the error when the boot itself was fine). */
  erroredProbes: string[];
  totalMs: number;
  /** Where that try's artifacts were moved (`<artifacts dir>.attempt-<n>`). */
  artifactsDir: string;
}

/** The outcome a set of verdicts gives: fail on any fail, else error on any error, else pass. */
export function outcomeOf(verdicts: readonly ProbeVerdict[]): CellResult['outcome'] {
  if (verdicts.some((v) => v.status === 'fail')) return 'fail';
  if (verdicts.some((v) => v.status === 'error')) return 'error';
  return 'pass';
}
