import { runKeyPair } from '../ssh/keys.ts';
import { loadCases } from './case-file.ts';
import { imageLookup } from './image-availability.ts';
import type { Plan } from '../model/cell.ts';
import { generatePassword, planCases, type ImageLookup, type RunCredentials } from './planner.ts';
import { selectCells, type Shard } from './select.ts';

export interface PlanFromFilesOptions {
  images?: string[];
  filter?: string[];
  shard?: Shard;
  /** Defaults: the run's SSH key (harness/ssh/keys.ts) and a fresh random password. */
  credentials?: RunCredentials;
  lookup?: ImageLookup;
}

let runPassword: string | undefined;
/**
 * One password per process, like the run's SSH key: every cell of a run uses the same pair.
 * CLOUDPROBE_RUN_PASSWORD fixes it (to log in to a VM kept with --keep); reports still redact it.
 */
export function runCredentials(env: NodeJS.ProcessEnv = process.env): RunCredentials {
  runPassword ??= env.CLOUDPROBE_RUN_PASSWORD || generatePassword();
  return { sshPublicKey: runKeyPair().publicKey, password: runPassword };
}

/** Case files/dirs → validated cases → cells (and skipped cells), narrowed by image, filter and shard. */
export async function planFromFiles(paths: string[], opts: PlanFromFilesOptions = {}): Promise<Plan> {
  const cases = await loadCases(paths);
  const plan = await planCases(cases, opts.lookup ?? (await imageLookup()), opts.credentials ?? runCredentials());
  const narrow = { ...(opts.images ? { images: opts.images } : {}), ...(opts.filter ? { filter: opts.filter } : {}), ...(opts.shard ? { shard: opts.shard } : {}) };
  return { cells: selectCells(plan.cells, narrow), skipped: selectCells(plan.skipped, narrow) };
}
