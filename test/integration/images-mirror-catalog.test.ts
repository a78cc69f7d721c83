import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { mirrored } from '../../harness/images/download.ts';
import { ensureImage } from '../../harness/images/ensure.ts';
import { getManifest, type UrlSource } from '../../harness/images/manifest.ts';
import type { CellSpec } from '../../harness/model/cell.ts';
import { NIC_MACS } from '../../harness/plan/network-modes.ts';
import { planFromFiles } from '../../harness/plan/plan-files.ts';
import { runProbes } from '../../harness/probes/run.ts';
import { ScriptedTransport } from '../helpers/local-guest.ts';
import { probeContext } from '../helpers/probe-context.ts';

/**
 * The shipped image manifests (images/), not test-made ones, against a real HTTP mirror on
 * 127.0.0.1 laid out as `<mirror>/<host>/<path>`: what `images fetch --mirror` does with the
 * catalog a user gets. Nothing leaves loopback and nothing is booted.
 */
interface Mirror {
  server: Server;
  base: string;
  files: Map<string, Buffer>;
  requests: { path: string; status: number }[];
}

async function startMirror(): Promise<Mirror> {
  const files = new Map<string, Buffer>();
  const requests: Mirror['requests'] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const body = files.get(path);
    requests.push({ path, status: body ? 200 : 404 });
    if (!body) res.writeHead(404).end('not found');
    else res.writeHead(200, { 'Content-Length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, files, requests };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** Where a shipped URL lies on the mirror: the path `mirrored()` turns it into. */
const onMirror = (url: string) => new URL(mirrored(url, 'http://m')).pathname;

let mirror: Mirror;
let work: string;
/** A real, tiny qcow2: the harness only ever checks its digest, but it is what a mirror would hold. */
let qcow2: Buffer;

beforeAll(async () => {
  mirror = await startMirror();
  work = await mkdtemp(join(tmpdir(), 'cloudprobe-mirror-catalog-'));
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', join(work, 'tiny.qcow2'), '64M']);
  qcow2 = await readFile(join(work, 'tiny.qcow2'));
});
afterAll(async () => {
  await new Promise((r) => mirror.server.close(r));
  await rm(work, { recursive: true, force: true });
});

let n = 0;
/** A fresh, empty image cache and TMPDIR for each test: one test's cached image never helps another. */
let cache: string;
let tmp: string;
beforeEach(async () => {
  n += 1;
  cache = join(work, `cache-${n}`);
  tmp = join(work, `tmp-${n}`);
  await mkdir(tmp);
  mirror.requests.length = 0;
});

async function cacheFiles(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name), `${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  };
  await walk(cache, '');
  return out.sort();
}

/**
 * The compiled CLI with none of the host's key, keyserver, mirror or catalog settings: only what
 * a test passes decides where keys and images come from.
 */
function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const base: NodeJS.ProcessEnv = { ...process.env, CLOUDPROBE_IMAGE_CACHE: cache, TMPDIR: tmp };
  for (const k of ['CLOUDPROBE_GPG_KEYRING', 'CLOUDPROBE_FETCH_KEY', 'CLOUDPROBE_KEYSERVER', 'CLOUDPROBE_MIRROR', 'CLOUDPROBE_IMAGES_DIR']) delete base[k];
  return execa(process.execPath, ['bin/cloudprobe.js', ...args], { env: { ...base, ...env }, reject: false, all: true });
}

const UBUNTU_FPR = 'D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81';
const UBUNTU_DIR = '/cloud-images.ubuntu.com/releases/24.04/release';
const UBUNTU_IMG = 'ubuntu-24.04-server-cloudimg-amd64.img';

describe('images fetch ubuntu-24.04 (the shipped manifest) from a local mirror, real gpg and gpgv', () => {
  let gnupg: string;
  let catalog: string;
  /** The generated key the catalog copy pins, and another generated key. */
  let pinned: string;
  let other: string;
  const keys = { pinned: '', other: '' };
  let shipped: string;
  let copy: string;
  const gpgEnv = () => ({ ...process.env, GNUPGHOME: gnupg });
  const imageRequested = () => mirror.requests.some((r) => r.path === `${UBUNTU_DIR}/${UBUNTU_IMG}`);

  async function genKey(uid: string): Promise<string> {
    // Loopback pinentry: an empty passphrase must not depend on a pinentry program being installed.
    await execa('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never'], { env: gpgEnv() });
    const listed = await execa('gpg', ['--batch', '--with-colons', '--list-keys', uid], { env: gpgEnv() });
    const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(listed.stdout)?.[1];
    if (!fpr) throw new Error(`test fixture: no fingerprint for ${uid}:\n${listed.stdout}`);
    return fpr;
  }

  /** A detached signature over the served SHA256SUMS by `signer`. */
  async function signSums(signer: string): Promise<Buffer> {
    // Through files, not stdout: execa strips a final "\n", and a signature may end in 0x0a.
    const [data, sig] = [join(gnupg, `sums-${signer}`), join(gnupg, `sums-${signer}.sig`)];
    await writeFile(data, mirror.files.get(`${UBUNTU_DIR}/SHA256SUMS`) as Buffer);
    await execa('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', '--local-user', signer, '--output', sig, '--detach-sign', data], { env: gpgEnv() });
    // A good signature by gpg's own judgement: a refusal below is then the harness's doing.
    const check = await execa('gpg', ['--batch', '--verify', sig, data], { env: gpgEnv(), reject: false, all: true });
    if (check.exitCode !== 0) throw new Error(`test fixture: gpg made no good signature: ${check.all}`);
    return readFile(sig);
  }

  beforeAll(async () => {
    gnupg = join(work, 'gnupg');
    catalog = join(work, 'ubuntu-catalog');
    await mkdir(gnupg, { mode: 0o700 });
    await mkdir(catalog);
    pinned = await genKey('cloudprobe pinned test key <pinned@example.invalid>');
    other = await genKey('cloudprobe other test key <other@example.invalid>');
    for (const [k, fpr] of [['pinned', pinned], ['other', other]] as const) {
      keys[k] = join(gnupg, `${k}.gpg`);
      await execa('gpg', ['--batch', '--yes', '--output', keys[k], '--export', fpr], { env: gpgEnv() });
    }
    // Nobody here holds the private half of Ubuntu's key: the copy pins a key made here, and
    // nothing else in it changes, so every URL and name the fetch uses is the shipped one.
    shipped = await readFile('images/ubuntu-24.04.yaml', 'utf8');
    copy = shipped.replace(new RegExp(`^(\\s*fingerprint: )${UBUNTU_FPR}$`, 'm'), `$1${pinned}`);
    await writeFile(join(catalog, 'ubuntu-24.04.yaml'), copy);

    // Listed as Ubuntu lists them (`*` binary marker), beside another file's line, so the
    // digest is found by the image's real file name.
    mirror.files.set(`${UBUNTU_DIR}/${UBUNTU_IMG}`, qcow2);
    mirror.files.set(
      `${UBUNTU_DIR}/SHA256SUMS`,
      Buffer.from(`${sha256(Buffer.from('arm64 image'))} *ubuntu-24.04-server-cloudimg-arm64.img\n${sha256(qcow2)} *${UBUNTU_IMG}\n`),
    );
  });
  afterAll(async () => {
    await execa('gpgconf', ['--kill', 'all'], { env: gpgEnv(), reject: false });
  });
  afterEach(async () => {
    // Every private GnuPG home and key copy the fetch made was removed, on refusals too.
    expect(await readdir(tmp)).toEqual([]);
  });

  it('the shipped manifest pins Ubuntu’s key; the catalog copy differs in its fingerprint line only', async () => {
    const m = await getManifest('ubuntu-24.04');
    const source = m.source as UrlSource;
    expect(source.gpg?.fingerprint).toBe(UBUNTU_FPR);
    // The mirror serves exactly the paths the shipped URLs map to.
    expect(onMirror(source.url)).toBe(`${UBUNTU_DIR}/${UBUNTU_IMG}`);
    expect('sums_url' in source.checksum && onMirror(source.checksum.sums_url)).toBe(`${UBUNTU_DIR}/SHA256SUMS`);
    expect(onMirror(source.gpg?.signature_url ?? '')).toBe(`${UBUNTU_DIR}/SHA256SUMS.gpg`);
    const [a, b] = [shipped.split('\n'), copy.split('\n')];
    expect(b).toHaveLength(a.length);
    const differing = a.flatMap((line, k) => (line === b[k] ? [] : [k]));
    expect(differing).toHaveLength(1);
    const k = differing[0] as number;
    expect(a[k]).toBe(`    fingerprint: ${UBUNTU_FPR}`);
    expect(b[k]).toBe(`    fingerprint: ${pinned}`);
    expect((await getManifest('ubuntu-24.04', catalog)).source).toEqual({ ...source, gpg: { ...source.gpg, fingerprint: pinned } });
  });

  it('passes with a key of the pinned fingerprint: exit 0, the cached path on stdout', async () => {
    mirror.files.set(`${UBUNTU_DIR}/SHA256SUMS.gpg`, await signSums(pinned));
    const r = await cli(['images', 'fetch', 'ubuntu-24.04', '--mirror', mirror.base, '--keyring', keys.pinned], { CLOUDPROBE_IMAGES_DIR: catalog });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout.trim()).toBe(join(cache, 'ubuntu-24.04', UBUNTU_IMG));
    expect(r.stderr).toContain(`ubuntu-24.04: signature good, by the pinned key ${pinned} (${keys.pinned})`);
    expect(sha256(await readFile(join(cache, 'ubuntu-24.04', UBUNTU_IMG)))).toBe(sha256(qcow2));
    expect(await cacheFiles()).toEqual([`ubuntu-24.04/${UBUNTU_IMG}`, `ubuntu-24.04/${UBUNTU_IMG}.verified.json`]);
    // The checksum file and its signature come first: the image is asked for only once they are believed.
    expect(mirror.requests.map((q) => q.path)).toEqual([`${UBUNTU_DIR}/SHA256SUMS`, `${UBUNTU_DIR}/SHA256SUMS.gpg`, `${UBUNTU_DIR}/${UBUNTU_IMG}`]);
  });

  it('refuses a keyring holding only another key: exit 2, one line naming both fingerprints, nothing fetched or cached', async () => {
    mirror.files.set(`${UBUNTU_DIR}/SHA256SUMS.gpg`, await signSums(other));
    const r = await cli(['images', 'fetch', 'ubuntu-24.04', '--mirror', mirror.base, '--keyring', keys.other], { CLOUDPROBE_IMAGES_DIR: catalog });
    expect(r.exitCode, r.all).toBe(2);
    // One line (execa drops the final newline), no stack trace.
    expect(r.stderr).toBe(`cloudprobe: ubuntu-24.04: keyring ${keys.other} (from --keyring) does not hold the pinned signing key: expected ${pinned}, found ${other}`);
    expect(r.stdout).toBe('');
    // The checksum file and its signature were read from the mirror; the image never was.
    expect(mirror.requests.map((q) => q.path)).toEqual([`${UBUNTU_DIR}/SHA256SUMS`, `${UBUNTU_DIR}/SHA256SUMS.gpg`]);
    expect(imageRequested()).toBe(false);
    expect(await cacheFiles()).toEqual([]);
  });

  it('refuses a signature by another key over the same SHA256SUMS, with the pinned key supplied', async () => {
    mirror.files.set(`${UBUNTU_DIR}/SHA256SUMS.gpg`, await signSums(other));
    const r = await cli(['images', 'fetch', 'ubuntu-24.04', '--mirror', mirror.base, '--keyring', keys.pinned], { CLOUDPROBE_IMAGES_DIR: catalog });
    expect(r.exitCode, r.all).toBe(2);
    expect(r.stderr).toBe(
      `cloudprobe: ubuntu-24.04: ${mirror.base}${UBUNTU_DIR}/SHA256SUMS.gpg is signed by ${other}, not by the pinned key ${pinned} (the only key trusted, from ${keys.pinned} (from --keyring))`,
    );
    expect(imageRequested()).toBe(false);
    expect(await cacheFiles()).toEqual([]);
  });

  it('the shipped manifest itself, unchanged, refuses a key made here: it is not Ubuntu’s', async () => {
    mirror.files.set(`${UBUNTU_DIR}/SHA256SUMS.gpg`, await signSums(pinned));
    // No CLOUDPROBE_IMAGES_DIR: the catalog in images/ as shipped.
    const r = await cli(['images', 'fetch', 'ubuntu-24.04', '--mirror', mirror.base, '--keyring', keys.pinned]);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.stderr).toBe(`cloudprobe: ubuntu-24.04: keyring ${keys.pinned} (from --keyring) does not hold the pinned signing key: expected ${UBUNTU_FPR}, found ${pinned}`);
    expect(imageRequested()).toBe(false);
    expect(await cacheFiles()).toEqual([]);
  });
});

const CIRROS_DIR = '/download.cirros-cloud.net/0.6.3';
const CIRROS_IMG = 'cirros-0.6.3-x86_64-disk.img';
/** What Cirros's init writes to /run/cirros/datasource/dsname for each datasource kind. */
const CIRROS_DSNAME: Record<string, string> = { 'configdrive-iso9660': 'configdrive', 'configdrive-vfat': 'configdrive', 'metadata-ec2': 'ec2' };
/** The probes the shipped Cirros profile declares n/a. */
const CIRROS_NA = ['password-login', 'timezone', 'runcmd', 'etc-hosts', 'clean-boot', 'user-data-schema'] as const;

describe('the shipped Cirros case on a local mirror copy of cirros-0.6.3 (planned, nothing booted)', () => {
  let cirrosCache: string;
  const plan = () => planFromFiles(['cases/cirros.yaml']);

  beforeAll(async () => {
    const fixture = await getManifest('fixture-busybox');
    // The brief was to serve the fixture's disk, but the fixture boots a kernel and an initramfs
    // and has no disk image (format none). So a qcow2 made by qemu-img stands in; the planner
    // only asks whether the cache holds a verified copy.
    expect([fixture.format, fixture.boot.type]).toEqual(['none', 'kernel']);
    mirror.files.set(`${CIRROS_DIR}/${CIRROS_IMG}`, qcow2);
    // Laid out like download.cirros-cloud.net's own SHA256SUMS: every artefact of the release.
    mirror.files.set(
      `${CIRROS_DIR}/SHA256SUMS`,
      Buffer.from(`${sha256(Buffer.from('aarch64'))}  cirros-0.6.3-aarch64-disk.img\n${sha256(qcow2)}  ${CIRROS_IMG}\n${sha256(Buffer.from('kernel'))}  cirros-0.6.3-x86_64-kernel\n`),
    );
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  /** The planner finds the cache the way `cloudprobe run` does: from the environment. */
  function useCache(dir: string): void {
    vi.stubEnv('CLOUDPROBE_IMAGE_CACHE', dir);
    vi.stubEnv('CLOUDPROBE_IMAGES_DIR', undefined);
  }

  it('the shipped manifest, unchanged, fetches through the mirror (its digest read from SHA256SUMS)', async () => {
    const m = await getManifest('cirros-0.6.3');
    const source = m.source as UrlSource;
    expect('sums_url' in source.checksum).toBe(true);
    expect(source.gpg).toBeUndefined();
    expect(onMirror(source.url)).toBe(`${CIRROS_DIR}/${CIRROS_IMG}`);

    // Before the fetch the image's cells are skipped as not cached: the fetch is what changes the plan.
    useCache(cache);
    const before = await plan();
    expect(before.cells).toEqual([]);
    expect(before.skipped.filter((s) => s.kind === 'unavailable').map((s) => s.reason)).toEqual(Array(6).fill('image cirros-0.6.3 is not cached here (run: npx cloudprobe images fetch cirros-0.6.3)'));

    const r = await cli(['images', 'fetch', 'cirros-0.6.3', '--mirror', mirror.base]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout.trim()).toBe(join(cache, 'cirros-0.6.3', CIRROS_IMG));
    expect(mirror.requests.map((q) => q.path)).toEqual([`${CIRROS_DIR}/SHA256SUMS`, `${CIRROS_DIR}/${CIRROS_IMG}`]);
    expect(await cacheFiles()).toEqual([`cirros-0.6.3/${CIRROS_IMG}`, `cirros-0.6.3/${CIRROS_IMG}.verified.json`]);
    cirrosCache = cache;
  });

  it('plans cases/cirros.yaml with that cache: the cells are available, with the Cirros profile’s expectations', async () => {
    expect(cirrosCache, 'the fetch test ran first').toBeDefined();
    useCache(cirrosCache);
    const { cells, skipped } = await plan();
    expect(cells.map((c) => c.id)).toEqual([
      'cirros/cirros-0.6.3/configdrive-iso9660/dhcp',
      'cirros/cirros-0.6.3/configdrive-iso9660/multi-nic-dhcp',
      'cirros/cirros-0.6.3/configdrive-vfat/dhcp',
      'cirros/cirros-0.6.3/metadata-ec2-imdsv2-optional/dhcp',
      'cirros/cirros-0.6.3/metadata-ec2/dhcp',
      'cirros/cirros-0.6.3/metadata-ec2/multi-nic-dhcp',
    ]);
    // Only the static cells are left out, as inapplicable — none for want of the image.
    expect(skipped.map((s) => [s.id, s.kind])).toEqual([
      ['cirros/cirros-0.6.3/configdrive-iso9660/static', 'inapplicable'],
      ['cirros/cirros-0.6.3/configdrive-vfat/static', 'inapplicable'],
      ['cirros/cirros-0.6.3/metadata-ec2-imdsv2-optional/static', 'inapplicable'],
      ['cirros/cirros-0.6.3/metadata-ec2/static', 'inapplicable'],
    ]);
    expect(skipped[0]?.reason).toBe('cirros-0.6.3 applies only dhcp from network_data.json, not a static address');
    expect(skipped[3]?.reason).toMatch(/^metadata-ec2 carries no network configuration/);

    const byId = (id: string) => cells.find((c) => c.id === `cirros/cirros-0.6.3/${id}`) as CellSpec;
    // Cirros's udhcpc takes every NIC: on EC2 (no network data) cloud-init would leave NIC 2 unconfigured.
    expect(byId('metadata-ec2/multi-nic-dhcp').expectations.nics).toEqual([
      { mac: NIC_MACS[0], mode: 'dhcp' },
      { mac: NIC_MACS[1], mode: 'dhcp' },
    ]);
    for (const c of cells) {
      expect(c.expectations.nics?.every((x) => x.mode === 'dhcp'), c.id).toBe(true);
      expect(c.expectations.datasource, c.id).toBe(c.datasource === 'metadata-ec2' ? 'Ec2' : 'ConfigDrive');
      expect(c.expectations.hostname, c.id).toBe('cloud');
      expect(c.expectations.fqdn, c.id).toBeUndefined();
    }
  });

  it('each planned cell, judged with the image the run would take from the cache, gets the Cirros profile’s verdicts', async () => {
    useCache(cirrosCache);
    const { cells } = await plan();
    expect(cells).toHaveLength(6);
    for (const cell of cells) {
      // The same lookup runCell makes, here refusing to download: the run would use the mirror copy.
      const image = await ensureImage(cell.image, { allowFetch: false });
      expect(image.path).toBe(join(cirrosCache, 'cirros-0.6.3', CIRROS_IMG));
      const caps = image.manifest.capabilities;
      // Nothing is booted: a guest that answers only what a Cirros guest on this datasource
      // would, and treats any other command (hostname -f, cloud-init's files) as a lost link.
      const guest = new ScriptedTransport((line) => {
        if (line === 'hostname' || line === 'cat /etc/hostname') return { stdout: 'cloud\n' };
        if (line === 'cat /run/cirros/datasource/dsname') return { stdout: `${CIRROS_DSNAME[cell.datasource]}\n` };
        return new Error(`nothing is booted: ${line}`);
      });
      // The image half of the probes' context, as runCell builds it from the manifest.
      const ctx = probeContext(guest, cell.expectations, {
        image: { notApplicable: caps.not_applicable, nicModes: caps.nic_modes, networkRenderer: image.manifest.network_renderer, datasourceSource: caps.datasource_source, resolvesFqdn: caps.resolves_fqdn },
      });
      const verdicts = await runProbes(ctx, [...CIRROS_NA, 'datasource', 'hostname']);
      const v = Object.fromEntries(verdicts.map((x) => [x.probe, x]));
      for (const name of CIRROS_NA) {
        expect(v[name], `${cell.id} ${name}`).toMatchObject({ status: 'n/a', summary: `not applicable to this image: ${caps.not_applicable[name]}` });
      }
      expect(v.datasource, cell.id).toMatchObject({ status: 'pass', summary: `Cirros used its ${CIRROS_DSNAME[cell.datasource]} datasource` });
      expect(v.hostname, cell.id).toMatchObject({ status: 'pass', observed: { hostname: 'cloud', etcHostname: 'cloud', fqdn: '(not asked on this image)' } });
      // The n/a probes ran nothing, and no cloud-init file or FQDN lookup was asked for.
      expect(guest.seen, cell.id).toEqual(['cat /run/cirros/datasource/dsname', 'hostname', 'cat /etc/hostname']);
    }
  });

  it('run cases/cirros.yaml --list with that cache lists them as run lines', async () => {
    const r = await cli(['run', 'cases/cirros.yaml', '--list'], { CLOUDPROBE_IMAGE_CACHE: cirrosCache });
    expect(r.exitCode, r.all).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.filter((l) => l.startsWith('run '))).toEqual([
      'run   cirros/cirros-0.6.3/configdrive-iso9660/dhcp',
      'run   cirros/cirros-0.6.3/configdrive-iso9660/multi-nic-dhcp',
      'run   cirros/cirros-0.6.3/configdrive-vfat/dhcp',
      'run   cirros/cirros-0.6.3/metadata-ec2-imdsv2-optional/dhcp',
      'run   cirros/cirros-0.6.3/metadata-ec2/dhcp',
      'run   cirros/cirros-0.6.3/metadata-ec2/multi-nic-dhcp',
    ]);
    expect(lines.filter((l) => l.startsWith('skip '))).toHaveLength(4);
    expect(r.stdout).not.toContain('not cached');
    expect(lines.at(-1)).toBe('6 to run, 4 skipped');
    // Listing asks the mirror for nothing.
    expect(mirror.requests).toEqual([]);
  });
});
