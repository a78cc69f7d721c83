import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { loadYamlFile } from '../util/yaml-file.ts';

/** Build recipes: `images/recipes/<name>.yaml`, with their files in `images/recipes/<files>/`. */
const FixtureRecipeSchema = z.strictObject({
  builder: z.literal('fixture-busybox'),
  kernel_package: z.string().min(1),
  modules: z.array(z.string().regex(/^[a-z0-9_-]+$/)).min(1),
  root_password: z.string().min(1),
  files: z.string().min(1),
});

const DebianRecipeSchema = z.strictObject({
  builder: z.literal('debian'),
  suite: z.string().min(1),
  /** apt source lines for mmdebstrap; `CLOUDPROBE_DEBIAN_MIRROR` replaces http://deb.debian.org. */
  sources: z.array(z.string().min(1)).min(1),
  /**
   * false: accept a Release file past its Valid-Until. sid's and forky's are valid for a week
   * only, so a mirror or snapshot that is not refreshed daily (as here) is "expired" for them;
   * signatures are still checked.
   */
  check_valid_until: z.boolean().default(true),
  packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.-]*$/)).min(1),
  /** Units masked because they only burn emulated CPU at boot. */
  mask_units: z.array(z.string()).default([]),
  /** Units enabled explicitly (the netplan flavour's systemd-networkd). */
  enable_units: z.array(z.string()).default([]),
  disk_size_mib: z.number().int().min(512),
  files: z.string().min(1),
});

export const RecipeSchema = z.discriminatedUnion('builder', [FixtureRecipeSchema, DebianRecipeSchema]);
export type Recipe = z.output<typeof RecipeSchema>;
export type FixtureRecipe = z.output<typeof FixtureRecipeSchema>;
export type DebianRecipe = z.output<typeof DebianRecipeSchema>;

export interface LoadedRecipe {
  name: string;
  file: string;
  /** Directory of the recipe's own files (scripts, config snippets). */
  filesDir: string;
  recipe: Recipe;
}

export async function loadRecipe(catalogDir: string, name: string): Promise<LoadedRecipe> {
  const file = join(catalogDir, 'recipes', `${name}.yaml`);
  const recipe = await loadYamlFile(file, RecipeSchema);
  return { name, file, filesDir: join(catalogDir, 'recipes', recipe.files), recipe };
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out.sort();
}

/**
 * Version of each builder's output. Bump it when a builder change alters what it produces: the
 * recipe hash, and so every cached build of that builder, changes with it. (Hashing the
 * builder's source instead would make every refactor rebuild the Debian images, minutes each.)
 */
export const BUILDER_VERSIONS: Record<Recipe['builder'], number> = {
  'fixture-busybox': 1,
  debian: 1,
};

/**
 * Hash of everything that decides a build's output: the recipe, its files, the builder version and
 * the manifest fields the build bakes in. A cached build under this hash is reused as is.
 */
export async function recipeHash(r: LoadedRecipe, baked: Record<string, unknown>): Promise<string> {
  const h = createHash('sha256');
  const add = (label: string, data: Buffer | string) => {
    h.update(`${label}\0${data.length}\0`);
    h.update(data);
  };
  add('recipe', await readFile(r.file));
  for (const f of await listFiles(r.filesDir)) add(`file:${relative(r.filesDir, f)}`, await readFile(f));
  add('builder', `${r.recipe.builder}@${BUILDER_VERSIONS[r.recipe.builder]}`);
  add('baked', JSON.stringify(baked));
  return h.digest('hex').slice(0, 16);
}
