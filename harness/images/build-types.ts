import { UserError } from '../util/errors.ts';
import type { ImageManifest } from './manifest.ts';
import type { BuildProcesses } from './build-processes.ts';
import type { LoadedRecipe } from './recipe.ts';
import type { CloudInitDeb } from './cloud-init-deb.ts';

export interface BuildContext {
  manifest: ImageManifest;
  recipe: LoadedRecipe;
  /** Scratch space, removed after the build whatever happens. */
  workDir: string;
  /** Where the builder writes its outputs; renamed into the cache only when the build succeeds. */
  outDir: string;
  log: (line: string) => void;
  /** Runs the build's commands, each in its own process group, so an interrupt can stop them all. */
  processes: BuildProcesses;
  /** Install this cloud-init package over the archive's (a derived build). */
  cloudInitDeb?: CloudInitDeb;
}

/** File names (inside outDir) of what a build produced. */
export interface BuildOutputs {
  disk?: string;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
}

/** requireTool, but a missing tool is the user's to fix: a UserError (no stack) naming the package. */
export async function needTool(name: string, why: string): Promise<string> {
  const { requireTool } = await import('../host/tools.ts');
  try {
    return await requireTool(name);
  } catch (err) {
    throw new UserError(`${why}: ${(err as Error).message}`);
  }
}
