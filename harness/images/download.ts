import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { imageCacheDir } from '../util/paths.ts';
import type { LocalImage } from './local-image.ts';
import { withLock } from './lock.ts';
import type { ImageManifest, UrlSource } from './manifest.ts';
import { checkSumsSignature } from './signature.ts';
import { checkCached, writeSidecar } from './verify.ts';

export interface FetchOptions {
  cacheDir?: string;
  /** Base URL of a mirror laid out as `<mirror>/<host>/<path>` (what `wget -x URL` creates). */
  mirror?: string;
  /** Fetch again even when a verified copy is cached. */
  force?: boolean;
  log?: (line: string) => void;
  /** Live progress line (on a TTY); otherwise a plain line every 10 %. */
  progress?: 'tty' | 'lines' | 'none';
  /** Attempts for one file; each resumes the partial file with an HTTP Range request. */
  attempts?: number;
  /** `--keyring FILE`: the key that signs the checksum file (harness/images/signing-key.ts). */
  keyring?: string;
  /** `--fetch-key`: a missing pinned key may be fetched from the keyserver into the cache. */
  fetchKey?: boolean;
  /** Where CLOUDPROBE_GPG_KEYRING, CLOUDPROBE_FETCH_KEY and CLOUDPROBE_KEYSERVER are read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** `$CLOUDPROBE_MIRROR` unless a mirror is given. */
export function mirrorFrom(opts: { mirror?: string }, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return opts.mirror || env.CLOUDPROBE_MIRROR || undefined;
}

/** Where a URL is fetched from: itself, or `<mirror>/<host>/<path>`. */
export function mirrored(url: string, mirror?: string): string {
  if (!mirror) return url;
  const u = new URL(url);
  return `${mirror.replace(/\/+$/, '')}/${u.host}${u.pathname}`;
}

/** Paths of a downloaded image in the cache. */
export function downloadPaths(manifest: ImageManifest & { source: UrlSource }, cacheDir = imageCacheDir()) {
  const dir = join(cacheDir, manifest.name);
  const file = join(dir, basename(new URL(manifest.source.url).pathname));
  return { dir, file, part: `${file}.part`, lock: join(cacheDir, `${manifest.name}.lock`) };
}

export type DigestAlgo = 'sha256' | 'sha512';
export interface Digest {
  algo: DigestAlgo;
  hex: string;
}

/** Digest for `fileName` in a SHA256SUMS/SHA512SUMS-style file (`<hex> [ *]<name>`). */
export function digestFromSums(sums: string, fileName: string, algo: DigestAlgo = 'sha256'): string | undefined {
  const len = algo === 'sha256' ? 64 : 128;
  for (const line of sums.split('\n')) {
    const m = line.trim().match(new RegExp(`^([0-9a-fA-F]{${len}})\\s+\\*?(.+)$`));
    if (m && (m[2] === fileName || basename(m[2] as string) === fileName)) return (m[1] as string).toLowerCase();
  }
  return undefined;
}

async function getBytes(url: string): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (err) {
    throw new UserError(`cannot download ${url}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`);
  }
  if (!res.ok) throw new UserError(`cannot download ${url}: HTTP ${res.status} ${res.statusText}`);
  return Buffer.from(await res.arrayBuffer());
}

/** What checking the checksum file's signature needs besides the manifest (see signing-key.ts). */
export interface DigestOptions {
  mirror?: string;
  /** Image cache: where `keys/<FINGERPRINT>.gpg` is looked for. */
  cacheDir?: string;
  keyring?: string;
  fetchKey?: boolean;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/**
 * The expected digest: a pinned SHA-256, or read from the checksum file, whose signature (when
 * the manifest has `gpg:`) is checked with the pinned key before a line of it is believed.
 */
export async function expectedDigest(manifest: ImageManifest & { source: UrlSource }, opts: DigestOptions = {}): Promise<Digest> {
  const source = manifest.source;
  if ('sha256' in source.checksum) return { algo: 'sha256', hex: source.checksum.sha256 };
  const log = opts.log ?? (() => {});
  const sumsUrl = mirrored(source.checksum.sums_url, opts.mirror);
  const sumsBytes = await getBytes(sumsUrl);
  if (source.gpg) {
    const sigUrl = mirrored(source.gpg.signature_url, opts.mirror);
    const signature = await getBytes(sigUrl);
    const keyOpts = { keyring: opts.keyring, fetchKey: opts.fetchKey, cacheDir: opts.cacheDir ?? imageCacheDir(), env: opts.env ?? process.env, log };
    const keyFile = await checkSumsSignature(manifest.name, source.gpg, { sums: sumsBytes, sumsUrl, signature, sigUrl }, keyOpts);
    log(`${manifest.name}: signature good, by the pinned key ${source.gpg.fingerprint} (${keyFile})`);
  }
  const sums = sumsBytes.toString('utf8');
  const name = basename(new URL(source.url).pathname);
  const algo = source.checksum.algo;
  const digest = digestFromSums(sums, name, algo);
  if (!digest) throw new UserError(`${sumsUrl} lists no ${algo} for ${name}`);
  return { algo, hex: digest };
}

function formatMiB(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}

class Progress {
  private lastPct = -1;
  private readonly started = Date.now();
  constructor(private readonly label: string, private readonly mode: 'tty' | 'lines' | 'none', private readonly log: (l: string) => void) {}
  update(done: number, total: number | undefined): void {
    if (this.mode === 'none') return;
    const rate = done / Math.max(0.001, (Date.now() - this.started) / 1000);
    if (this.mode === 'tty') {
      const pct = total ? `${Math.floor((done / total) * 100)}% ` : '';
      process.stderr.write(`\r${this.label}: ${pct}${formatMiB(done)}${total ? ` / ${formatMiB(total)}` : ''} ${formatMiB(rate)}/s   `);
      return;
    }
    const pct = total ? Math.floor((done / total) * 10) * 10 : -1;
    if (pct > this.lastPct) {
      this.lastPct = pct;
      this.log(`${this.label}: ${pct}% (${formatMiB(done)}${total ? ` of ${formatMiB(total)}` : ''})`);
    }
  }
  end(): void {
    if (this.mode === 'tty') process.stderr.write('\n');
  }
}

/**
 * Appends `url` to `part` (resuming with a Range request when it already holds bytes), hashing
 * as it goes. Returns the digest of the whole file. Throws a retryable error on a cut transfer.
 */
interface Downloaded {
  sha256: string;
  /** Digest in the algorithm the manifest checks with (the same as sha256 for sha256). */
  checked: string;
  size: number;
}

/** SHA-256 (recorded for later integrity checks) and the manifest's algorithm, in one pass. */
function hashers(algo: DigestAlgo) {
  const a = createHash('sha256');
  const b = algo === 'sha256' ? undefined : createHash(algo);
  return {
    update(chunk: Uint8Array) {
      a.update(chunk);
      b?.update(chunk);
    },
    digest(): { sha256: string; checked: string } {
      const sha256 = a.digest('hex');
      return { sha256, checked: b ? b.digest('hex') : sha256 };
    },
  };
}

async function downloadInto(url: string, part: string, algo: DigestAlgo, progress: Progress): Promise<Downloaded> {
  const hash = hashers(algo);
  let have = await stat(part).then((s) => s.size).catch(() => 0);
  if (have > 0) for await (const chunk of createReadStream(part)) hash.update(chunk as Buffer);
  const res = await fetch(url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, redirect: 'follow' });
  if (res.status === 416 && have > 0) {
    // The partial file is not a prefix the server recognises: start over.
    await rm(part, { force: true });
    await res.body?.cancel();
    return downloadInto(url, part, algo, progress);
  }
  if (!res.ok) throw new UserError(`cannot download ${url}: HTTP ${res.status} ${res.statusText}`);
  let restart = false;
  if (have > 0 && res.status !== 206) restart = true; // server ignored the Range: take the whole body
  const fh = await open(part, restart || have === 0 ? 'w' : 'a');
  const digest = restart ? hashers(algo) : hash;
  if (restart) have = 0;
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? have + length : undefined;
  let done = have;
  try {
    if (!res.body) throw new Error('empty response body');
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      await fh.write(chunk);
      digest.update(chunk);
      done += chunk.length;
      progress.update(done, total);
    }
  } finally {
    await fh.close();
  }
  if (total !== undefined && done !== total) throw new Error(`transfer cut short at ${done} of ${total} bytes`);
  return { ...digest.digest(), size: done };
}

/**
 * Downloads a url-source image into the cache: streamed to `<file>.part`, resumed with HTTP Range
 * after a cut, SHA-256 checked, renamed into place only when it matches (a mismatch deletes the
 * partial file). A lock per image keeps concurrent runs sharing the cache from colliding; the
 * one that waited finds the verified file and returns it.
 */
export async function fetchImage(manifest: ImageManifest, opts: FetchOptions = {}): Promise<LocalImage> {
  const source = manifest.source;
  if (source.kind !== 'url') throw new UserError(`image ${manifest.name} is built, not downloaded; run: cloudprobe images build ${manifest.name}`);
  const m = manifest as ImageManifest & { source: UrlSource };
  const log = opts.log ?? (() => {});
  const mirror = mirrorFrom(opts);
  const paths = downloadPaths(m, opts.cacheDir);
  const expected = await expectedDigest(m, { mirror, cacheDir: opts.cacheDir, keyring: opts.keyring, fetchKey: opts.fetchKey, env: opts.env, log });
  await mkdir(paths.dir, { recursive: true });
  return withLock(
    paths.lock,
    async () => {
      const cached = await checkCached(paths.file, expected);
      if (cached.ok && !opts.force) {
        log(`${manifest.name}: cached and verified (${paths.file})`);
        return { name: manifest.name, manifest, path: paths.file };
      }
      await rm(paths.file, { force: true });
      const url = mirrored(source.url, mirror);
      log(`${manifest.name}: downloading ${url}`);
      const progress = new Progress(manifest.name, opts.progress ?? 'lines', log);
      const attempts = opts.attempts ?? 4;
      let got: Downloaded | undefined;
      for (let attempt = 1; !got; attempt++) {
        try {
          got = await downloadInto(url, paths.part, expected.algo, progress);
        } catch (err) {
          if (err instanceof UserError || attempt >= attempts) {
            progress.end();
            const msg = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
            throw err instanceof UserError ? err : new UserError(`cannot download ${url}: ${msg} (partial file kept for resume: ${paths.part})`);
          }
          log(`${manifest.name}: transfer interrupted (${(err as Error).message}); resuming (attempt ${attempt + 1} of ${attempts})`);
        }
      }
      progress.end();
      if (got.checked !== expected.hex) {
        await rm(paths.part, { force: true });
        throw new UserError(`${manifest.name}: checksum mismatch for ${url}: expected ${expected.algo} ${expected.hex}, got ${got.checked}; the download was deleted and will not be used`);
      }
      await rename(paths.part, paths.file);
      await writeSidecar(paths.file, { sha256: got.sha256, ...(expected.algo !== 'sha256' ? { [expected.algo]: expected.hex } : {}), size: got.size, url: source.url, verifiedAt: new Date().toISOString() });
      log(`${manifest.name}: verified ${expected.algo} ${got.checked.slice(0, 16)}… (${formatMiB(got.size)}) → ${paths.file}`);
      return { name: manifest.name, manifest, path: paths.file };
    },
    { onWait: (pid) => log(`${manifest.name}: another cloudprobe (pid ${pid}) is fetching it; waiting`) },
  );
}
