import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { readKeyFile } from './gpg-keyring.ts';

/** Where `--fetch-key` asks for a pinned key: `$CLOUDPROBE_KEYSERVER`, else Ubuntu's keyserver. */
export const KEYSERVER_ENV = 'CLOUDPROBE_KEYSERVER';
export const DEFAULT_KEYSERVER = 'https://keyserver.ubuntu.com';

export function keyserverFrom(env: NodeJS.ProcessEnv): string {
  return (env[KEYSERVER_ENV] || DEFAULT_KEYSERVER).replace(/\/+$/, '');
}

/** HKP lookup of one key by fingerprint, machine-readable (an armored key block). */
export function hkpLookupUrl(keyserver: string, fingerprint: string): string {
  return `${keyserver.replace(/\/+$/, '')}/pks/lookup?op=get&options=mr&search=0x${fingerprint}`;
}

/**
 * Fetches `fingerprint` from a keyserver over HKP (plain HTTP(S), no dirmngr: nothing of the
 * user's GnuPG setup is involved) and writes that key alone, as a binary keyring, to `dest`.
 * A keyserver's answer is not trusted for more than it is: it must hold the pinned key, and only
 * that key is kept. `dir` is the caller's temp directory.
 */
export async function fetchPinnedKey(keyserver: string, fingerprint: string, dest: string, dir: string): Promise<void> {
  const url = hkpLookupUrl(keyserver, fingerprint);
  let body: Buffer;
  try {
    const res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    body = Buffer.from(await res.arrayBuffer());
  } catch (err) {
    const e = err as Error & { cause?: Error };
    throw new UserError(`cannot fetch key ${fingerprint} from ${keyserver}: ${e.cause?.message ?? e.message}`);
  }
  const answer = join(dir, 'keyserver-answer.asc');
  await writeFile(answer, body);
  const keys = await readKeyFile(answer, dir);
  if (!keys.fingerprints.includes(fingerprint)) {
    throw new UserError(`${url} answered with ${keys.fingerprints.join(', ') || 'no OpenPGP key'}, not the pinned key ${fingerprint}; nothing was cached`);
  }
  await mkdir(dirname(dest), { recursive: true });
  // Written beside `dest` and renamed: a concurrent run never reads half a keyring.
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    await keys.exportKey(fingerprint, tmp);
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { force: true });
  }
}
