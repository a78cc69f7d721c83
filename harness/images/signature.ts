import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { UserError } from '../util/errors.ts';
import { needTool } from './build-types.ts';
import { withTempDir } from './gpg-keyring.ts';
import type { GpgSpec } from './manifest.ts';
import { locateKey, pinnedKeyring, type KeyOptions } from './signing-key.ts';

/** What gpgv's status lines (`--status-fd`) say about the signatures in a detached signature file. */
export type SigVerdict =
  | { ok: true; signer: string }
  | { ok: false; why: 'bad' | 'revoked'; key: string }
  | { ok: false; why: 'other-key'; keys: string[] }
  | { ok: false; why: 'none' };

/**
 * Judged from the status lines, not gpgv's exit code, as apt does: a file may carry several
 * signatures, and one by a key we do not have (gpgv then exits 2) must not hide a good one by
 * the pinned key. It passes when some signature is VALIDSIG by the pinned primary key (field 10,
 * the primary's fingerprint, so a signing subkey counts as its key) and none is BADSIG.
 */
export function judgeStatus(status: string, pinned: string): SigVerdict {
  const valid: string[] = [];
  const unknown: string[] = [];
  for (const line of status.split('\n')) {
    const m = /^\[GNUPG:\] (\S+)(?: (.*))?$/.exec(line.trim());
    if (!m) continue;
    const [kw, rest = ''] = [m[1], m[2]];
    const args = rest.split(' ');
    const first = args[0] ?? '';
    if (kw === 'BADSIG') return { ok: false, why: 'bad', key: first };
    if (kw === 'REVKEYSIG') return { ok: false, why: 'revoked', key: first };
    if (kw === 'VALIDSIG') valid.push((args[9] || first).toUpperCase());
    // ERRSIG <keyid> <pkalgo> <hashalgo> <class> <time> <rc> [<fpr>]: rc 9 is "no public key";
    // gpg ≥ 2.2 adds the issuer's fingerprint, which names the other key best.
    if (kw === 'ERRSIG') unknown.push(/^[0-9A-F]{40}$/i.test(args[6] ?? '') ? (args[6] as string).toUpperCase() : first);
  }
  if (valid.includes(pinned)) return { ok: true, signer: pinned };
  const others = [...valid, ...unknown];
  return others.length ? { ok: false, why: 'other-key', keys: others } : { ok: false, why: 'none' };
}

export interface SignedSums {
  sums: Buffer;
  sumsUrl: string;
  signature: Buffer;
  sigUrl: string;
}

/**
 * Checks a checksum file against its detached signature with the manifest's pinned key only:
 * find the key (signing-key.ts), keep just that key, run gpgv on that, judge its status lines.
 * Everything happens in one temp directory, removed afterwards. Returns the key file used.
 */
export async function checkSumsSignature(what: string, gpg: GpgSpec, signed: SignedSums, opts: KeyOptions): Promise<string> {
  const gpgv = await needTool('gpgv', 'checking the checksum signature');
  return withTempDir('cloudprobe-gpg-', async (dir) => {
    const source = await locateKey(gpg, what, opts, dir);
    const keyring = await pinnedKeyring(source, gpg.fingerprint, what, dir);
    const [sumsFile, sigFile] = [join(dir, 'sums'), join(dir, 'sums.sig')];
    await writeFile(sumsFile, signed.sums);
    await writeFile(sigFile, signed.signature);
    // Its own empty home: gpgv reads nothing of ~/.gnupg (no trustedkeys.kbx of the user's).
    const home = await mkdtemp(join(dir, 'gpgv-'));
    const r = await execa(gpgv, ['--homedir', home, '--status-fd', '1', '--keyring', keyring, sigFile, sumsFile], { reject: false });
    const verdict = judgeStatus(r.stdout, gpg.fingerprint);
    const from = `${source.file} (from ${source.via})`;
    if (verdict.ok) return source.file;
    switch (verdict.why) {
      case 'bad':
        throw new UserError(`${what}: signature check of the checksum file failed (gpgv with the pinned key ${gpg.fingerprint} from ${from}): BAD signature on ${signed.sumsUrl}: it is not the file that was signed`);
      case 'revoked':
        throw new UserError(`${what}: signature check of the checksum file failed (gpgv): ${signed.sigUrl} is by the pinned key ${gpg.fingerprint}, which is revoked in ${from}`);
      case 'other-key':
        throw new UserError(`${what}: ${signed.sigUrl} is signed by ${verdict.keys.join(', ')}, not by the pinned key ${gpg.fingerprint} (the only key trusted, from ${from})`);
      case 'none': {
        const said = r.stderr.split('\n').map((l) => l.replace(/^gpgv:\s*/, '').trim()).find(Boolean) ?? `exit ${r.exitCode}`;
        throw new UserError(`${what}: signature check of the checksum file failed (gpgv): no signature in ${signed.sigUrl} could be read: ${said}`);
      }
    }
  });
}
