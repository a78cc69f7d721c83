import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Sidecar `<file>.verified.json`: the digest a file had when it was verified into the cache. */
export interface VerifiedRecord {
  sha256: string;
  /** The digest the download was checked against when the manifest uses SHA-512 sums. */
  sha512?: string;
  size: number;
  url?: string;
  verifiedAt: string;
}

export const sidecarPath = (file: string) => `${file}.verified.json`;

export async function writeSidecar(file: string, rec: VerifiedRecord): Promise<void> {
  const tmp = `${sidecarPath(file)}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(rec, null, 2)}\n`);
  await rename(tmp, sidecarPath(file));
}

export async function readSidecar(file: string): Promise<VerifiedRecord | undefined> {
  try {
    return JSON.parse(await readFile(sidecarPath(file), 'utf8')) as VerifiedRecord;
  } catch {
    return undefined;
  }
}

// Re-hashing a large image on every use is wasteful: remember files already checked in this
// process, keyed by identity and modification (a rewrite changes mtime/ctime/size).
const checked = new Map<string, string>();

export type CachedCheck = { ok: true; sha256: string } | { ok: false; why: string };

/** Is the cached `file` byte-for-byte what was verified (and, if given, the expected digest)? */
export async function checkCached(file: string, expected?: string | { algo: 'sha256' | 'sha512'; hex: string }): Promise<CachedCheck> {
  const rec = await readSidecar(file);
  if (!rec) return { ok: false, why: 'no verification record' };
  let st;
  try {
    st = await stat(file);
  } catch {
    return { ok: false, why: 'file missing' };
  }
  const want = typeof expected === 'string' ? { algo: 'sha256' as const, hex: expected } : expected;
  if (want && rec[want.algo] !== want.hex) return { ok: false, why: `cached ${want.algo} ${rec[want.algo] ?? '(none)'} is not the expected ${want.hex}` };
  if (st.size !== rec.size) return { ok: false, why: `size ${st.size} differs from the verified ${rec.size}` };
  const key = `${file}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  const sha = checked.get(key) ?? (await sha256File(file));
  if (sha !== rec.sha256) return { ok: false, why: `content changed since it was verified (sha256 ${sha}, verified ${rec.sha256})` };
  checked.set(key, sha);
  return { ok: true, sha256: sha };
}
