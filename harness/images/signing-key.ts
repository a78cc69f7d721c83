import { access, constants, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { readKeyFile } from './gpg-keyring.ts';
import { fetchPinnedKey, keyserverFrom } from './keyserver.ts';
import type { GpgSpec } from './manifest.ts';

/**
 * Where the key that signs a checksum file comes from. The manifest pins its fingerprint; the
 * key itself may come from several places, because no one place exists on every host (Debian 12
 * has no package with Ubuntu's cloud image key). Looked for in this order:
 *
 *   1. `--keyring FILE` (images fetch),
 *   2. `$CLOUDPROBE_GPG_KEYRING`,
 *   3. the host's keyring file at the manifest's `gpg.keyring` (e.g. from a distribution package),
 *   4. `<image cache>/keys/<FINGERPRINT>.gpg`, filled from a keyserver only on an explicit opt-in
 *      (`--fetch-key`, `CLOUDPROBE_FETCH_KEY=1`): fetching is never a silent fallback, since
 *      test and CI hosts may have no internet, and a key's origin should be a decision.
 *
 * The first that exists is used, and it must hold the pinned key, whatever else it holds
 * (pinnedKeyring): a given file that lacks it is an error, not a reason to look further.
 */

/** A keyring file for every signed manifest; only the pinned key of each is taken from it. */
export const KEYRING_ENV = 'CLOUDPROBE_GPG_KEYRING';
/** `1` (or `true`, `yes`): the host has internet; a missing pinned key may be fetched from the keyserver. */
export const FETCH_KEY_ENV = 'CLOUDPROBE_FETCH_KEY';

export interface KeyOptions {
  /** `--keyring FILE`. */
  keyring?: string;
  /** `--fetch-key`. */
  fetchKey?: boolean;
  /** The image cache; its `keys/` holds keys fetched or put there by hand. */
  cacheDir: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

export interface KeySource {
  file: string;
  /** How it was found, for messages: "--keyring", "$CLOUDPROBE_GPG_KEYRING", "the host keyring", … */
  via: string;
}

/** `<cache>/keys/<FINGERPRINT>.gpg`: the one key, as a binary keyring. */
export function cachedKeyFile(cacheDir: string, fingerprint: string): string {
  return join(cacheDir, 'keys', `${fingerprint}.gpg`);
}

export function fetchKeyOptedIn(opts: Pick<KeyOptions, 'fetchKey' | 'env'>): boolean {
  return opts.fetchKey === true || /^(1|true|yes)$/i.test(opts.env[FETCH_KEY_ENV] ?? '');
}

const isFile = (f: string) => stat(f).then((s) => s.isFile(), () => false);

/** A file the user named must be there: a typo is an error, not a quiet fall back to other sources. */
async function given(file: string, via: string): Promise<KeySource> {
  try {
    await access(file, constants.R_OK);
    if (!(await isFile(file))) throw new Error('not a file');
  } catch (err) {
    throw new UserError(`keyring ${file} (from ${via}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { file, via };
}

/** Every way to supply the key, for the message when none did. */
function waysToSupply(gpg: GpgSpec, cacheDir: string, env: NodeJS.ProcessEnv): string {
  const hint = gpg.keyring_hint ? `: ${gpg.keyring_hint.trim()}` : '';
  return [
    `pass a file holding it with --keyring FILE or ${KEYRING_ENV}=FILE`,
    `install ${gpg.keyring} (absent here${hint})`,
    `put it at ${cachedKeyFile(cacheDir, gpg.fingerprint)}`,
    `or, on a host with internet, let cloudprobe fetch it from ${keyserverFrom(env)} with --fetch-key or ${FETCH_KEY_ENV}=1`,
  ].join('; ');
}

/** The first source of the key that exists (see the order above); `dir` is a temp directory. */
export async function locateKey(gpg: GpgSpec, what: string, opts: KeyOptions, dir: string): Promise<KeySource> {
  if (opts.keyring) return given(opts.keyring, '--keyring');
  const fromEnv = opts.env[KEYRING_ENV];
  if (fromEnv) return given(fromEnv, `$${KEYRING_ENV}`);
  if (await isFile(gpg.keyring)) return { file: gpg.keyring, via: 'the host keyring' };
  const cached = cachedKeyFile(opts.cacheDir, gpg.fingerprint);
  if (await isFile(cached)) return { file: cached, via: 'the image cache' };
  if (fetchKeyOptedIn(opts)) {
    const keyserver = keyserverFrom(opts.env);
    opts.log(`${what}: fetching signing key ${gpg.fingerprint} from ${keyserver} (opted in) into ${cached}`);
    await fetchPinnedKey(keyserver, gpg.fingerprint, cached, dir);
    return { file: cached, via: `${keyserver}, now cached` };
  }
  throw new UserError(`${what}: no key to check the checksum signature with (the pinned ${gpg.fingerprint}); ${waysToSupply(gpg, opts.cacheDir, opts.env)}`);
}

/**
 * Exports the pinned key alone from `source` into `<dir>/pinned.gpg` for gpgv, so that no
 * other key in the file (a keyring may hold many) can vouch for a signature. A source without
 * the pinned key is refused, naming what it holds.
 */
export async function pinnedKeyring(source: KeySource, fingerprint: string, what: string, dir: string): Promise<string> {
  const keys = await readKeyFile(source.file, dir);
  if (!keys.fingerprints.includes(fingerprint)) {
    const found = keys.fingerprints.length ? keys.fingerprints.join(', ') : 'no OpenPGP key gpg can read';
    throw new UserError(`${what}: keyring ${source.file} (from ${source.via}) does not hold the pinned signing key: expected ${fingerprint}, found ${found}`);
  }
  const out = join(dir, 'pinned.gpg');
  await keys.exportKey(fingerprint, out);
  return out;
}
