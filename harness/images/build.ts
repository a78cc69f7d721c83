import { BuildProcesses } from './build-processes.ts';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { imageCacheDir } from '../util/paths.ts';
import type { BuildContext, BuildOutputs } from './build-types.ts';
import type { LocalImage } from './local-image.ts';
import { withLock } from './lock.ts';
import { catalogDir, type ImageManifest } from './manifest.ts';
import { checkCached, sha256File, writeSidecar } from './verify.ts';
import { loadRecipe, recipeHash, type LoadedRecipe } from './recipe.ts';
import { derivedDirName, type CloudInitDeb } from './cloud-init-deb.ts';

export interface BuildOptions {
  catalogDir?: string;
  cacheDir?: string;
  /** Rebuild even when a build of the same recipe hash is cached. */
  force?: boolean;
  log?: (line: string) => void;
  /** Interrupts the build: every command it runs is stopped, and waited for, before its temp dir goes. */
  signal?: AbortSignal;
  /**
   * Install this cloud-init package over the archive's: a derived build, cached apart from the
   * image's own under `<cache>/<name>/cloud-init-<deb digest>/` (the image's own build is untouched).
   */
  cloudInitDeb?: CloudInitDeb;
}

/** What `build.json` in a finished build directory records. */
export interface BuildRecord {
  name: string;
  recipe: string;
  hash: string;
  builtAt: string;
  durationMs: number;
  outputs: BuildOutputs;
  /** The user's cloud-init package this derived build installed (and checked was installed). */
  cloudInitDeb?: { file: string; sha256: string; version: string };
}

function recipeOf(manifest: ImageManifest): string {
  if (manifest.source.kind !== 'build') throw new UserError(`image ${manifest.name} is downloaded, not built (source kind ${manifest.source.kind}); use: cloudprobe images fetch ${manifest.name}`);
  return manifest.source.recipe;
}

/** Manifest fields a build bakes into the image: part of the cache key. */
function bakedFields(m: ImageManifest): Record<string, unknown> {
  return { default_user: m.default_user, default_password: m.default_password, boot: m.boot, format: m.format, network_renderer: m.network_renderer };
}

/**
 * Where a build lives: `<cache>/<name>/build-<hash>/`, or for a derived build with the user's
 * cloud-init `<cache>/<name>/cloud-init-<deb digest>/build-<hash>/`. `variantDir` is the directory
 * whose older builds a new build replaces; `nameDir` carries the lock all builds of the image share.
 */
async function buildDir(manifest: ImageManifest, opts: BuildOptions): Promise<{ loaded: LoadedRecipe; hash: string; dir: string; nameDir: string; variantDir: string }> {
  const loaded = await loadRecipe(opts.catalogDir ?? catalogDir(), recipeOf(manifest));
  const deb = opts.cloudInitDeb;
  const hash = await recipeHash(loaded, { ...bakedFields(manifest), ...(deb ? { cloud_init_deb: deb.sha256 } : {}) });
  const nameDir = join(opts.cacheDir ?? imageCacheDir(), manifest.name);
  const variantDir = deb ? join(nameDir, derivedDirName(deb)) : nameDir;
  return { loaded, hash, dir: join(variantDir, `build-${hash}`), nameDir, variantDir };
}

function toLocalImage(manifest: ImageManifest, dir: string, outputs: BuildOutputs, cmdline: string | undefined, deb?: BuildRecord['cloudInitDeb']): LocalImage {
  return {
    name: manifest.name,
    manifest,
    ...(deb ? { cloudInitDeb: { sha256: deb.sha256, version: deb.version } } : {}),
    ...(outputs.disk ? { path: join(dir, outputs.disk) } : {}),
    ...(outputs.kernel ? { kernel: join(dir, outputs.kernel) } : {}),
    ...(outputs.initrd ? { initrd: join(dir, outputs.initrd) } : {}),
    ...(cmdline ? { cmdline } : {}),
  };
}

async function readRecord(dir: string): Promise<BuildRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'build.json'), 'utf8')) as BuildRecord;
  } catch {
    return undefined;
  }
}

async function cmdlineOf(manifest: ImageManifest, dir: string, outputs: BuildOutputs): Promise<string | undefined> {
  if (manifest.boot.type === 'kernel') return manifest.boot.cmdline;
  return outputs.cmdline ? (await readFile(join(dir, outputs.cmdline), 'utf8')).trim() : undefined;
}

/** Why a built image's files cannot be trusted any more (changed since the build), or undefined. */
export async function damagedFile(img: LocalImage): Promise<string | undefined> {
  for (const f of [img.path, img.kernel, img.initrd]) {
    if (!f) continue;
    const c = await checkCached(f);
    if (!c.ok) return `${f}: ${c.why}`;
  }
  return undefined;
}

/** The cached build of the current recipe, if there is one (no building). */
export async function findBuilt(manifest: ImageManifest, opts: BuildOptions = {}): Promise<(LocalImage & { record: BuildRecord }) | undefined> {
  const { dir } = await buildDir(manifest, opts);
  const record = await readRecord(dir);
  if (!record) return undefined;
  return { ...toLocalImage(manifest, dir, record.outputs, await cmdlineOf(manifest, dir, record.outputs), record.cloudInitDeb), record };
}

/**
 * Removes a build's temp dir. A killed mmdebstrap (root mode) can leave its /proc, /sys and /dev
 * mounts inside the root it was building: detach those first, so the removal never walks into
 * the host's /dev or /sys.
 */
function removeBuildDir(dir: string): void {
  let mounts: string[] = [];
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' '))
      .filter((mp) => mp.startsWith(`${dir}/`));
  } catch {
    // no /proc: nothing can be mounted either
  }
  for (const mp of mounts.reverse()) spawnSync('umount', ['-l', mp]);
  rmSync(dir, { recursive: true, force: true });
}

async function runBuilder(ctx: BuildContext): Promise<BuildOutputs> {
  const r = ctx.recipe.recipe;
  switch (r.builder) {
    case 'fixture-busybox':
      return (await import('./build-fixture.ts')).buildFixture(ctx, r);
    case 'debian':
      return (await import('./build-debian.ts')).buildDebian(ctx, r);
  }
}

/**
 * Builds an image from its recipe into the cache (`<cache>/<name>/build-<recipe hash>/`), or
 * returns the cached build. The build runs in a temp dir beside the cache that is always removed
 * (also on Ctrl-C via the exit hook) and is renamed into place only when complete.
 */
export async function buildImage(manifest: ImageManifest, opts: BuildOptions = {}): Promise<LocalImage> {
  const log = opts.log ?? (() => {});
  const { loaded, hash, dir, nameDir, variantDir } = await buildDir(manifest, opts);
  const deb = opts.cloudInitDeb;
  if (deb && loaded.recipe.builder !== 'debian') {
    throw new UserError(`${manifest.name} is built by the ${loaded.recipe.builder} builder, which has no cloud-init: a cloud-init .deb applies only to images built from a Debian recipe`);
  }
  const label = deb ? `${manifest.name} with cloud-init ${deb.version} (${deb.file})` : manifest.name;
  await mkdir(variantDir, { recursive: true });
  return withLock(
    `${nameDir}.lock`,
    async () => {
      const cached = await findBuilt(manifest, opts);
      const damaged = cached && (await damagedFile(cached));
      if (cached && !damaged && !opts.force) {
        log(`${label}: cached build ${hash} (${cached.record.builtAt}); --force rebuilds`);
        const { record: _record, ...img } = cached;
        return img;
      }
      if (damaged) log(`${manifest.name}: cached build is damaged (${damaged}); rebuilding`);
      // Leftovers of builds killed hard (SIGKILL) never hold the lock any more: remove them.
      // Through removeBuildDir: a plain rm would delete through mmdebstrap's leftover bind mounts.
      for (const e of await readdir(variantDir)) if (e.startsWith('.tmp-')) removeBuildDir(join(variantDir, e));
      const tmp = await mkdtemp(join(variantDir, `.tmp-${hash}-`));
      const processes = new BuildProcesses(opts.signal);
      // Last resort on a hard exit: kill and wait for every command first, so nothing writes into
      // the root while it is removed.
      const cleanup = () => {
        processes.killAllSync();
        removeBuildDir(tmp);
      };
      process.once('exit', cleanup);
      try {
        const workDir = join(tmp, 'work');
        const outDir = join(tmp, 'out');
        await mkdir(workDir);
        await mkdir(outDir);
        const started = Date.now();
        log(`${label}: building recipe ${loaded.name} (hash ${hash})`);
        const outputs = await runBuilder({ manifest, recipe: loaded, workDir, outDir, processes, log: (l) => log(`${manifest.name}: ${l}`), ...(deb ? { cloudInitDeb: deb } : {}) });
        const record: BuildRecord = {
          name: manifest.name,
          recipe: loaded.name,
          hash,
          builtAt: new Date().toISOString(),
          durationMs: Date.now() - started,
          outputs,
          ...(deb ? { cloudInitDeb: { file: deb.file, sha256: deb.sha256, version: deb.version } } : {}),
        };
        // Each output gets a verification record, so a modified cached file is never used.
        for (const f of Object.values(outputs) as string[]) {
          const file = join(outDir, f);
          await writeSidecar(file, { sha256: await sha256File(file), size: (await stat(file)).size, verifiedAt: record.builtAt });
        }
        await writeFile(join(outDir, 'build.json'), `${JSON.stringify(record, null, 2)}\n`);
        await rm(dir, { recursive: true, force: true });
        await rename(outDir, dir);
        // Older builds of this variant (other recipe hashes) are dead weight; derived builds live
        // in their own directories, so neither kind replaces the other.
        for (const e of await readdir(variantDir)) if (e.startsWith('build-') && e !== `build-${hash}`) await rm(join(variantDir, e), { recursive: true, force: true });
        log(`${label}: built in ${(record.durationMs / 1000).toFixed(1)} s → ${dir}`);
        return toLocalImage(manifest, dir, outputs, await cmdlineOf(manifest, dir, outputs), record.cloudInitDeb);
      } finally {
        await processes.stopAll();
        removeBuildDir(tmp);
        process.removeListener('exit', cleanup);
      }
    },
    { onWait: (pid) => log(`${manifest.name}: waiting for another build (pid ${pid})`) },
  );
}
