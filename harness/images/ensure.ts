import { rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UserError } from '../util/errors.ts';
import { buildImage, damagedFile, findBuilt } from './build.ts';
import { downloadPaths, fetchImage, mirrorFrom } from './download.ts';
import type { LocalImage } from './local-image.ts';
import { catalogDir, getManifest, type ImageManifest, type UrlSource } from './manifest.ts';
import { checkCached } from './verify.ts';
import type { CloudInitDeb } from './cloud-init-deb.ts';

export type { LocalImage } from './local-image.ts';

export interface EnsureOptions {
  catalogDir?: string;
  cacheDir?: string;
  /** Download a url-source image that is not cached (default true). */
  allowFetch?: boolean;
  /** Build a build-source image that is not cached (default true; needs root and the Debian mirror). */
  allowBuild?: boolean;
  mirror?: string;
  log?: (line: string) => void;
  /** The derived build of a built image with this cloud-init package installed (built when absent). */
  cloudInitDeb?: CloudInitDeb;
}

/**
 * The image `name` from the cache, fetched or built first when it is absent (and allowed).
 * Every file handed out has been checked against the digest it was verified or built with:
 * a modified or half-written file is never used.
 */
export async function ensureImage(name: string, opts: EnsureOptions = {}): Promise<LocalImage> {
  const manifest = await getManifest(name, opts.catalogDir ?? catalogDir());
  const log = opts.log ?? (() => {});
  if (manifest.source.kind === 'build') return ensureBuilt(manifest, opts, log);
  if (opts.cloudInitDeb) throw new UserError(`image ${name} is not built from a recipe (source ${manifest.source.kind}): a cloud-init .deb applies only to built images`);
  if (manifest.source.kind === 'local') return localImage(manifest, manifest.source.path);
  return ensureDownloaded(manifest as ImageManifest & { source: UrlSource }, opts, log);
}

async function ensureBuilt(manifest: ImageManifest, opts: EnsureOptions, log: (l: string) => void): Promise<LocalImage> {
  const built = await findBuilt(manifest, opts);
  if (built) {
    const damaged = await damagedFile(built);
    if (!damaged) {
      const { record: _record, ...img } = built;
      return img;
    }
    log(`${manifest.name}: cached build is damaged (${damaged}); discarding it`);
    await rm(dirname((built.path ?? built.kernel) as string), { recursive: true, force: true });
  }
  if (opts.allowBuild === false) {
    const deb = opts.cloudInitDeb ? ` --cloud-init-deb ${opts.cloudInitDeb.file}` : '';
    throw new UserError(`image ${manifest.name}${opts.cloudInitDeb ? ` with cloud-init ${opts.cloudInitDeb.version}` : ''} is not built; run: cloudprobe images build ${manifest.name}${deb}`);
  }
  return buildImage(manifest, { catalogDir: opts.catalogDir, cacheDir: opts.cacheDir, log, ...(opts.cloudInitDeb ? { cloudInitDeb: opts.cloudInitDeb } : {}) });
}

/** A local file booted as it is: it must be there and readable; VMs get overlays, never write to it. */
export async function localImage(manifest: ImageManifest, path: string): Promise<LocalImage> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) throw new UserError(`image ${manifest.name}: ${path} ${st ? 'is not a regular file' : 'does not exist'}`);
  return { name: manifest.name, manifest, path };
}

async function ensureDownloaded(manifest: ImageManifest & { source: UrlSource }, opts: EnsureOptions, log: (l: string) => void): Promise<LocalImage> {
  const { file } = downloadPaths(manifest, opts.cacheDir);
  const pinned = 'sha256' in manifest.source.checksum ? manifest.source.checksum.sha256 : undefined;
  const cached = await checkCached(file, pinned);
  if (cached.ok) return { name: manifest.name, manifest, path: file };
  const hint = `run: cloudprobe images fetch ${manifest.name} --mirror URL (or set CLOUDPROBE_MIRROR)`;
  if (opts.allowFetch === false) {
    throw new UserError(`image ${manifest.name} is not cached (${cached.why}) and downloads are not allowed here; ${hint}`);
  }
  try {
    return await fetchImage(manifest, { cacheDir: opts.cacheDir, mirror: mirrorFrom(opts), log });
  } catch (err) {
    if (err instanceof UserError) throw new UserError(`image ${manifest.name} is not cached and cannot be downloaded: ${err.message}; ${hint}`);
    throw err;
  }
}
