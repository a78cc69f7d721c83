import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { UserError } from '../util/errors.ts';
import { needTool } from './build-types.ts';

/**
 * The gpg steps of a signature check, each in a private GnuPG home: the user's own ~/.gnupg
 * (its keys, its trust settings, its agent) must neither help nor hurt a check.
 */

/** Primary-key fingerprints in `gpg --with-colons` output (an `fpr` record right after a `pub`). */
export function primaryFingerprints(colons: string): string[] {
  const out: string[] = [];
  let afterPub = false;
  for (const line of colons.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === 'fpr' && afterPub && fields[9]) out.push(fields[9].toUpperCase());
    afterPub = fields[0] === 'pub';
  }
  return out;
}

/**
 * A temp directory for one check, removed afterwards whatever happens; also on a hard exit
 * (Ctrl-C ends the CLI through process.exit, which runs 'exit' listeners but not `finally`).
 */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', cleanup);
  try {
    return await fn(dir);
  } finally {
    process.removeListener('exit', cleanup);
    await rm(dir, { recursive: true, force: true });
  }
}

/** One line of what gpg said, for an error message (gpg prefixes every line with `gpg: `). */
function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n').map((l) => l.replace(/^gpg:\s*/, '').trim()).find(Boolean) ?? '(no output)';
}

/**
 * Imports `file` (binary or armored OpenPGP keys) into a fresh home under `dir` and returns the
 * primary fingerprints it holds, with a function that exports one of them, alone, as a binary
 * keyring. `--no-autostart`: importing public keys needs no gpg-agent, and none is left running.
 */
export async function readKeyFile(file: string, dir: string): Promise<{ fingerprints: string[]; exportKey: (fpr: string, out: string) => Promise<void> }> {
  const gpg = await needTool('gpg', 'reading the signing key');
  // Its own home each call (mode 0700 from mkdtemp, or gpg warns about unsafe permissions).
  const home = await mkdtemp(join(dir, 'home-'));
  const base = ['--homedir', home, '--batch', '--yes', '--no-autostart', '--no-options'];
  // A file with no key in it makes gpg exit non-zero; the empty list below says so to the user.
  await execa(gpg, [...base, '--import', file], { reject: false, all: true });
  const listed = await execa(gpg, [...base, '--with-colons', '--list-keys'], { reject: false, all: true });
  const fingerprints = listed.exitCode === 0 ? primaryFingerprints(listed.stdout) : [];
  return {
    fingerprints,
    exportKey: async (fpr, out) => {
      // A full primary fingerprint selects that one keyblock (with its subkeys, which may be the signers).
      const r = await execa(gpg, [...base, '--output', out, '--export', fpr], { reject: false, all: true });
      if (r.exitCode !== 0) throw new UserError(`cannot export key ${fpr} from ${file}: ${firstLine(r.all)}`);
    },
  };
}
