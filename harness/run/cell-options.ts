import type { CellResult, CellSpec, KeepMode } from '../model/cell.ts';
import type { ProbeVerdict } from '../model/probe.ts';
import type { MetadataService } from '../metadata/service.ts';
import type { ProbeContext } from '../probes/context.ts';
import type { SshKeyPair } from '../ssh/keys.ts';
import type { LocalImage } from '../images/local-image.ts';
import type { BootStage } from '../vm/readiness.ts';

/** How one cell is run: the single definition shared by the session, the scheduler and runCell. */
export interface RunCellOptions {
  /** The cell's artifacts go to `<artifactsRoot>/<cell.id>/`. */
  artifactsRoot: string;
  /** Keep the VM's work dir (overlay, config drive, serial log): default on-failure. */
  keep?: KeepMode;
  /** A shared metadata service (a run session starts one); without it, a metadata cell starts its own. */
  metadataService?: MetadataService;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** The key that logs in (default: this process's runKeyPair(), whose public half the planner put in the instance). */
  sshKey?: SshKeyPair;
  /** Override per-stage timeouts (e.g. short ones in never-boots tests). */
  timeoutsMs?: Partial<Record<BootStage, number>>;
  /** Boot this image instead of looking the cell's image name up in the catalog (`certify FILE`: an image no manifest describes). */
  image?: LocalImage;
  /** Extra kernel command line for kernel-boot images (tests: a guest that panics). */
  extraCmdline?: string;
  /**
   * Called after the probes while the VM still runs, with the probes' context and verdicts: lets a
   * test judge other expectations against the same boot, and --keep/--hold hold the VM here. It may
   * return how to reach the held VM (shown in the result). Errors become a cell error.
   */
  inspect?: (ctx: ProbeContext, verdicts: readonly ProbeVerdict[]) => Promise<void | { sshCommand?: string }>;
}

/** The signature of harness/run/run-cell.ts `runCell`, injected so the scheduler stays small and testable. */
export type RunCellFn = (cell: CellSpec, opts: RunCellOptions) => Promise<CellResult>;
