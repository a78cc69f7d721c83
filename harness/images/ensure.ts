import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UserError } from '../util/errors.ts';
import { buildImage, damagedFile, findBuilt } from './build.ts';
import { downloadPaths, fetchImage, mirrorFrom } from './download.ts';
import type { LocalImage } from './local-image.ts';
import { catalogDir, getManifest, type ImageManifest, type UrlSource } from './manifest.ts';
import { checkCached } from './verify.ts';

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
    throw new UserError(`image ${manifest.name} is not built; run: cloudprobe images build ${manifest.name}`);
  }
  return buildImage(manifest, { catalogDir: opts.catalogDir, cacheDir: opts.cacheDir, log });
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
