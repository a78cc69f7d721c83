import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { primaryFingerprints } from '../../harness/images/gpg-keyring.ts';
import { hkpLookupUrl, keyserverFrom } from '../../harness/images/keyserver.ts';
import { getManifest, loadCatalog, type GpgSpec } from '../../harness/images/manifest.ts';
import { judgeStatus } from '../../harness/images/signature.ts';
import { cachedKeyFile, fetchKeyOptedIn, locateKey, type KeyOptions } from '../../harness/images/signing-key.ts';
import { UserError } from '../../harness/util/errors.ts';
import { YamlValidationError } from '../../harness/util/yaml-file.ts';

/** The "UEC Image Automatic Signing Key" (docs/facts.md §5), written out here, not read from a manifest. */
const UEC = 'D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81';

describe('the shipped Ubuntu manifests', () => {
  it('both pin the UEC Image Automatic Signing Key and name the package that ships it', async () => {
    for (const name of ['ubuntu-22.04', 'ubuntu-24.04']) {
      const m = await getManifest(name);
      if (m.source.kind !== 'url') throw new Error(`${name} is not a download`);
      expect(m.source.gpg?.fingerprint, name).toBe(UEC);
      expect(m.source.gpg?.keyring, name).toBe('/usr/share/keyrings/ubuntu-cloudimage-keyring.gpg');
      expect(m.source.gpg?.keyring_hint, name).toMatch(/\bubuntu-cloudimage-keyring\b/);
      expect(m.source.gpg?.keyring_hint, name).not.toMatch(/\bubuntu-keyring\b/);
    }
  });
});

// Status lines as gpgv 2.2.40 printed them (--status-fd 1), from keys made for these tests.
const A = 'D7A7207EAF584EACE0BBAFB6BC055D45391A0393';
const B = '1719835B9FE8EDB1FD9D8A11146536D3E31B4883';
const good = `[GNUPG:] NEWSIG
[GNUPG:] KEY_CONSIDERED ${A} 0
[GNUPG:] SIG_ID wGZ4BnkOqb8LwUB0g0FP4tH1RIQ 2026-12-04 1796347976
[GNUPG:] GOODSIG BC055D45391A0393 a <a@x.invalid>
[GNUPG:] VALIDSIG ${A} 2026-12-04 1796347976 0 4 0 22 8 00 ${A}
`;
const byOther = `[GNUPG:] NEWSIG
[GNUPG:] ERRSIG 146536D3E31B4883 22 8 00 1796347830 9 ${B}
[GNUPG:] NO_PUBKEY 146536D3E31B4883
`;

describe('judging gpgv status lines against the pinned key', () => {
  it('passes a valid signature by the pinned key', () => {
    expect(judgeStatus(good, A)).toEqual({ ok: true, signer: A });
  });

  it('passes the pinned key among several signers (gpgv exits 2 for the key it lacks)', () => {
    expect(judgeStatus(good + byOther, A)).toEqual({ ok: true, signer: A });
  });

  it('refuses a signature by another key, naming it by fingerprint', () => {
    expect(judgeStatus(byOther, A)).toEqual({ ok: false, why: 'other-key', keys: [B] });
    // A valid signature by a key that is not the pinned one does not count either.
    expect(judgeStatus(good, B)).toEqual({ ok: false, why: 'other-key', keys: [A] });
  });

  it('counts a signing subkey as its primary key (VALIDSIG field 10)', () => {
    const sub = `[GNUPG:] VALIDSIG ${'C'.repeat(40)} 2026-12-04 1796347976 0 4 0 22 8 00 ${A}\n`;
    expect(judgeStatus(sub, A)).toEqual({ ok: true, signer: A });
  });

  it('refuses a bad signature even next to a good one, and says when there is no signature', () => {
    expect(judgeStatus(`${good}[GNUPG:] NEWSIG\n[GNUPG:] BADSIG BC055D45391A0393 a <a@x.invalid>\n`, A)).toMatchObject({ ok: false, why: 'bad' });
    expect(judgeStatus('[GNUPG:] NODATA 1\n', A)).toEqual({ ok: false, why: 'none' });
    expect(judgeStatus('', A)).toEqual({ ok: false, why: 'none' });
  });
});

describe('gpg --with-colons fingerprints', () => {
  it('lists primary keys only, not subkeys', () => {
    const colons = ['pub:-:255:22:BC055D45391A0393:1796347830:::-:::scSC:::::ed25519:::0:', `fpr:::::::::${A}:`, 'uid:-::::1796347830::X::a <a@x.invalid>::::::::::0:', 'sub:-:255:18:0000000000000001:1796347830::::::e:::::cv25519::', `fpr:::::::::${'E'.repeat(40)}:`, 'pub:-:255:22:146536D3E31B4883:1796347830:::-:::scSC:::::ed25519:::0:', `fpr:::::::::${B}:`].join('\n');
    expect(primaryFingerprints(colons)).toEqual([A, B]);
  });
});

describe('the keyserver', () => {
  it('is Ubuntu\'s unless CLOUDPROBE_KEYSERVER names another; keys are looked up by full fingerprint', () => {
    expect(keyserverFrom({})).toBe('https://keyserver.ubuntu.com');
    expect(keyserverFrom({ CLOUDPROBE_KEYSERVER: 'http://127.0.0.1:1/' })).toBe('http://127.0.0.1:1');
    expect(hkpLookupUrl('https://keyserver.ubuntu.com', UEC)).toBe(`https://keyserver.ubuntu.com/pks/lookup?op=get&options=mr&search=0x${UEC}`);
  });

  it('is used only on an explicit opt-in', () => {
    expect(fetchKeyOptedIn({ env: {} })).toBe(false);
    expect(fetchKeyOptedIn({ env: { CLOUDPROBE_FETCH_KEY: '0' } })).toBe(false);
    expect(fetchKeyOptedIn({ env: { CLOUDPROBE_FETCH_KEY: '1' } })).toBe(true);
    expect(fetchKeyOptedIn({ env: {}, fetchKey: true })).toBe(true);
  });
});

describe('where the signing key is looked for', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloudprobe-keysrc-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const spec = (keyring: string): GpgSpec => ({ signature_url: 'https://example.invalid/SUMS.gpg', fingerprint: A, keyring, keyring_hint: 'from the test-keyring package' });
  const opts = (more: Partial<KeyOptions> = {}): KeyOptions => ({ cacheDir: join(dir, 'cache'), env: {}, log: () => {}, ...more });
  const file = async (name: string) => {
    const p = join(dir, name);
    await writeFile(p, 'key');
    return p;
  };

  it('in order: --keyring, $CLOUDPROBE_GPG_KEYRING, the host keyring, the image cache', async () => {
    const [flag, env, host] = [await file('flag.gpg'), await file('env.gpg'), await file('host.gpg')];
    const cached = cachedKeyFile(join(dir, 'cache'), A);
    expect(cached).toBe(join(dir, 'cache', 'keys', `${A}.gpg`));
    await mkdir(join(dir, 'cache', 'keys'), { recursive: true });
    await writeFile(cached, 'key');
    const envOf = { CLOUDPROBE_GPG_KEYRING: env };
    expect(await locateKey(spec(host), 't', opts({ keyring: flag, env: envOf }), dir)).toEqual({ file: flag, via: '--keyring' });
    expect(await locateKey(spec(host), 't', opts({ env: envOf }), dir)).toEqual({ file: env, via: '$CLOUDPROBE_GPG_KEYRING' });
    expect(await locateKey(spec(host), 't', opts(), dir)).toEqual({ file: host, via: 'the host keyring' });
    expect(await locateKey(spec(join(dir, 'absent.gpg')), 't', opts(), dir)).toEqual({ file: cached, via: 'the image cache' });
  });

  it('a file the user named must exist: no quiet fall back to the host keyring', async () => {
    const host = await file('host.gpg');
    await expect(locateKey(spec(host), 't', opts({ keyring: join(dir, 'typo.gpg') }), dir)).rejects.toThrow(/^keyring \S+typo\.gpg \(from --keyring\) cannot be read: ENOENT$/);
    await expect(locateKey(spec(host), 't', opts({ env: { CLOUDPROBE_GPG_KEYRING: join(dir, 'typo.gpg') } }), dir)).rejects.toThrow(/\(from \$CLOUDPROBE_GPG_KEYRING\) cannot be read/);
  });

  it('no key anywhere and no opt-in: one line naming every way to supply it, and no keyserver is asked', async () => {
    // The keyserver here would refuse the connection: an attempt to use it would change the message.
    const err = await locateKey(spec(join(dir, 'absent.gpg')), 'img', opts({ env: { CLOUDPROBE_KEYSERVER: 'http://127.0.0.1:9' } }), dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    const msg = (err as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg).toContain(`img: no key to check the checksum signature with (the pinned ${A})`);
    expect(msg).toContain('--keyring FILE or CLOUDPROBE_GPG_KEYRING=FILE');
    expect(msg).toContain(`install ${join(dir, 'absent.gpg')} (absent here: from the test-keyring package)`);
    expect(msg).toContain(`put it at ${join(dir, 'cache', 'keys', `${A}.gpg`)}`);
    expect(msg).toContain('fetch it from http://127.0.0.1:9 with --fetch-key or CLOUDPROBE_FETCH_KEY=1');
  });
});

describe('gpg.fingerprint in a manifest', () => {
  let dir: string;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const manifest = (fpr: string) =>
    ['name: sig', 'description: x', 'source:', '  kind: url', '  url: https://example.invalid/x.img', '  checksum:', '    sums_url: https://example.invalid/SHA256SUMS', '    algo: sha256', '  gpg:', '    signature_url: https://example.invalid/SHA256SUMS.gpg', `    fingerprint: ${fpr}`, '    keyring: /k.gpg', 'format: qcow2', 'boot: {type: bios-disk}', 'default_user: u', 'min_ram_mib: 64', 'nic_naming: eth0', 'network_renderer: none', ''].join('\n');

  it('is normalised: gpg\'s spaced groups and lowercase are accepted', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloudprobe-cat-'));
    await writeFile(join(dir, 'sig.yaml'), manifest('"d2eb 4462 6fdd c30b 513d  5bb7 1a5d 6c4c 7db8 7c81"'));
    const m = (await loadCatalog(dir)).manifests.get('sig');
    expect(m?.source.kind === 'url' && m.source.gpg?.fingerprint).toBe(UEC);
  });

  it('a bad value is one file:line:col error on the field', async () => {
    for (const bad of [UEC.slice(0, 39), `${UEC.slice(0, 39)}G`, '7DB87C81']) {
      dir = await mkdtemp(join(tmpdir(), 'cloudprobe-cat-'));
      await writeFile(join(dir, 'sig.yaml'), manifest(bad));
      const err = await loadCatalog(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(YamlValidationError);
      expect((err as Error).message).toBe(`${join(dir, 'sig.yaml')}:11:18: source.gpg.fingerprint: must be an OpenPGP fingerprint: 40 hex digits (spaces allowed)`);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is required with gpg:', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloudprobe-cat-'));
    await writeFile(join(dir, 'sig.yaml'), manifest('x').replace(/^ {4}fingerprint: x\n/m, ''));
    await expect(loadCatalog(dir)).rejects.toThrow(/sig\.yaml:10:\d+: source\.gpg\.fingerprint: required: the fingerprint of the one key/);
  });
});
