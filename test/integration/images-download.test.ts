import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchImage } from '../../harness/images/download.ts';
import { ensureImage } from '../../harness/images/ensure.ts';
import { getManifest } from '../../harness/images/manifest.ts';
import { UserError } from '../../harness/util/errors.ts';

/**
 * A real HTTP mirror on 127.0.0.1: serves files with Range support, can cut the first transfer
 * of a path short, can serve slowly, and records every request it got.
 */
interface Mirror {
  server: Server;
  base: string;
  files: Map<string, Buffer>;
  /** Paths whose next full (non-Range) response is cut after this many bytes. */
  cutOnce: Map<string, number>;
  /** Delay between 64 KiB chunks, so concurrent clients overlap. */
  chunkDelayMs: number;
  /** Hold image responses until the checksum file was asked for this many times. */
  holdUntilSums: number;
  requests: { path: string; query: string; range?: string; status: number }[];
}

async function startMirror(): Promise<Mirror> {
  const m: Omit<Mirror, 'server' | 'base'> = { files: new Map(), cutOnce: new Map(), chunkDelayMs: 0, holdUntilSums: 0, requests: [] };
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = decodeURIComponent(url.pathname);
      const query = url.search;
      const body = m.files.get(path);
      const range = req.headers.range;
      if (!body) {
        m.requests.push({ path, query, range, status: 404 });
        res.writeHead(404).end('not found');
        return;
      }
      let start = 0;
      let status = 200;
      if (range) {
        const r = /^bytes=(\d+)-$/.exec(range);
        start = Number(r?.[1] ?? 0);
        if (start >= body.length) {
          m.requests.push({ path, query, range, status: 416 });
          res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
          return;
        }
        status = 206;
      }
      m.requests.push({ path, query, range, status });
      for (let waited = 0; path.endsWith('.qcow2') && waited < 30_000; waited += 50) {
        if (m.requests.filter((r) => r.path.endsWith('SHA256SUMS')).length >= m.holdUntilSums) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const headers: Record<string, string | number> = { 'Content-Length': body.length - start, 'Accept-Ranges': 'bytes' };
      if (status === 206) headers['Content-Range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
      res.writeHead(status, headers);
      const cut = status === 200 ? m.cutOnce.get(path) : undefined;
      if (cut !== undefined) m.cutOnce.delete(path);
      const end = cut ?? body.length;
      for (let pos = start; pos < end; pos += 65536) {
        const chunk = body.subarray(pos, Math.min(end, pos + 65536));
        if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
        if (m.chunkDelayMs) await new Promise((r) => setTimeout(r, m.chunkDelayMs));
      }
      // A cut transfer: the connection dies mid-body, as when a proxy or the network drops it.
      if (cut !== undefined) res.destroy();
      else res.end();
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  // The same object the handler reads, so the tests' settings (delays, holds) reach it.
  return Object.assign(m, { server, base: `http://127.0.0.1:${port}` });
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function manifestYaml(name: string, url: string, checksum: string, extra = ''): string {
  return `name: ${name}
description: test image served by the local mirror
source:
  kind: url
  url: ${url}
  checksum:
${checksum}
${extra}format: qcow2
boot:
  type: bios-disk
default_user: tester
min_ram_mib: 128
nic_naming: eth0
network_renderer: none
`;
}

let mirror: Mirror;
let work: string;
let catalog: string;
let cache: string;
const image = randomBytes(3 * 1024 * 1024 + 123);

beforeAll(async () => {
  mirror = await startMirror();
});
afterAll(async () => {
  await new Promise((r) => mirror.server.close(r));
});

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'cloudprobe-images-dl-'));
  catalog = join(work, 'catalog');
  cache = join(work, 'cache');
  await mkdir(catalog);
  mirror.files.clear();
  mirror.cutOnce.clear();
  mirror.requests.length = 0;
  mirror.chunkDelayMs = 0;
  mirror.holdUntilSums = 0;
  mirror.files.set('/dl/img.qcow2', image);
  mirror.files.set('/dl/SHA256SUMS', Buffer.from(`${sha256(Buffer.from('other'))}  other.img\n${sha256(image)} *img.qcow2\n`));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function addManifest(name: string, checksum: string, url = `${mirror.base}/dl/img.qcow2`, extra = ''): Promise<void> {
  await writeFile(join(catalog, `${name}.yaml`), manifestYaml(name, url, checksum, extra));
}

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

describe('images fetch from a local HTTP mirror', () => {
  it('downloads, verifies against SHA256SUMS and caches with a verification record', async () => {
    await addManifest('t-sums', `    sums_url: ${mirror.base}/dl/SHA256SUMS\n    algo: sha256`);
    const img = await ensureImage('t-sums', { catalogDir: catalog, cacheDir: cache });
    expect(img.path).toBe(join(cache, 't-sums', 'img.qcow2'));
    expect(sha256(await readFile(img.path as string))).toBe(sha256(image));
    expect(await cacheFiles()).toEqual(['t-sums/img.qcow2', 't-sums/img.qcow2.verified.json']);
    // Cached now: a second ensure makes no image request.
    const before = mirror.requests.filter((r) => r.path === '/dl/img.qcow2').length;
    await ensureImage('t-sums', { catalogDir: catalog, cacheDir: cache, allowFetch: false });
    expect(mirror.requests.filter((r) => r.path === '/dl/img.qcow2').length).toBe(before);
  });

  it('refuses a wrong checksum, deletes the partial file and never hands the image out', async () => {
    await addManifest('t-bad', `    sha256: ${sha256(Buffer.from('not the image'))}`);
    const err = await ensureImage('t-bad', { catalogDir: catalog, cacheDir: cache }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/checksum mismatch .*expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}; the download was deleted/);
    expect(await cacheFiles()).toEqual([]);
    await expect(ensureImage('t-bad', { catalogDir: catalog, cacheDir: cache, allowFetch: false })).rejects.toThrow(/not cached/);
  });

  it('resumes a transfer cut short with an HTTP Range request', async () => {
    await addManifest('t-cut', `    sha256: ${sha256(image)}`);
    mirror.cutOnce.set('/dl/img.qcow2', 1_000_000);
    const lines: string[] = [];
    const img = await fetchImage(await getManifest('t-cut', catalog), { cacheDir: cache, log: (l) => lines.push(l) });
    expect(sha256(await readFile(img.path as string))).toBe(sha256(image));
    const reqs = mirror.requests.filter((r) => r.path === '/dl/img.qcow2');
    expect(reqs[0]).toMatchObject({ status: 200, range: undefined });
    // The resume asked only for what was missing (the cut happened at or after 1 000 000 bytes on our side).
    expect(reqs[1]?.status).toBe(206);
    const resumedFrom = Number(/^bytes=(\d+)-$/.exec(reqs[1]?.range ?? '')?.[1]);
    expect(resumedFrom).toBeGreaterThan(0);
    expect(resumedFrom).toBeLessThanOrEqual(1_000_000);
    expect(lines.join('\n')).toMatch(/resuming/);
    expect(await cacheFiles()).toEqual(['t-cut/img.qcow2', 't-cut/img.qcow2.verified.json']);
  });

  it('reports a 404 clearly and leaves nothing behind', async () => {
    await addManifest('t-404', `    sha256: ${sha256(image)}`, `${mirror.base}/dl/missing.qcow2`);
    await expect(ensureImage('t-404', { catalogDir: catalog, cacheDir: cache })).rejects.toThrow(
      /image t-404 is not cached and cannot be downloaded: cannot download http:\/\/127\.0\.0\.1:\d+\/dl\/missing\.qcow2: HTTP 404.*--mirror/,
    );
    expect(await cacheFiles()).toEqual([]);
  });

  it('fetches through a mirror laid out as <mirror>/<host>/<path>', async () => {
    mirror.files.set('/images.example.invalid/rel/img.qcow2', image);
    await addManifest('t-mirror', `    sha256: ${sha256(image)}`, 'https://images.example.invalid/rel/img.qcow2');
    const img = await ensureImage('t-mirror', { catalogDir: catalog, cacheDir: cache, mirror: mirror.base });
    expect(sha256(await readFile(img.path as string))).toBe(sha256(image));
    expect(mirror.requests.map((r) => r.path)).toEqual(['/images.example.invalid/rel/img.qcow2']);
  });

  it('never uses a cached image that was modified: detects it and fetches a good copy', async () => {
    await addManifest('t-tamper', `    sha256: ${sha256(image)}`);
    const img = await ensureImage('t-tamper', { catalogDir: catalog, cacheDir: cache });
    const tampered = Buffer.from(await readFile(img.path as string));
    tampered[4096] = (tampered[4096] ?? 0) ^ 0xff;
    await writeFile(img.path as string, tampered);
    await expect(ensureImage('t-tamper', { catalogDir: catalog, cacheDir: cache, allowFetch: false })).rejects.toThrow(/content changed since it was verified/);
    const again = await ensureImage('t-tamper', { catalogDir: catalog, cacheDir: cache });
    expect(sha256(await readFile(again.path as string))).toBe(sha256(image));
  });

  it('two processes fetching one image into one cache: one downloads, the other waits and reuses it', async () => {
    await addManifest('t-twice', `    sums_url: ${mirror.base}/dl/SHA256SUMS\n    algo: sha256`);
    // Each process reads the checksum file before it takes the lock; the image is served only
    // once both have, and slowly, so the second one surely finds the first mid-download.
    mirror.holdUntilSums = 2;
    mirror.chunkDelayMs = 20;
    const env = { ...process.env, CLOUDPROBE_IMAGES_DIR: catalog, CLOUDPROBE_IMAGE_CACHE: cache };
    const run = () => execa(process.execPath, ['bin/cloudprobe.js', 'images', 'fetch', 't-twice'], { env, reject: false, all: true });
    const [a, b] = await Promise.all([run(), run()]);
    expect(a.exitCode, a.all).toBe(0);
    expect(b.exitCode, b.all).toBe(0);
    expect(a.stdout.trim()).toBe(join(cache, 't-twice', 'img.qcow2'));
    expect(b.stdout.trim()).toBe(a.stdout.trim());
    expect(`${a.all}\n${b.all}`).toMatch(/is fetching it; waiting/);
    expect(`${a.all}\n${b.all}`).toMatch(/cached and verified/);
    expect(mirror.requests.filter((r) => r.path === '/dl/img.qcow2')).toHaveLength(1);
    expect(sha256(await readFile(join(cache, 't-twice', 'img.qcow2')))).toBe(sha256(image));
    expect(await cacheFiles()).toEqual(['t-twice/img.qcow2', 't-twice/img.qcow2.verified.json']);
  });
});

describe('cloudprobe images list', () => {
  it('shows every manifest, and which are cached with size and path', async () => {
    await addManifest('t-listed', `    sha256: ${sha256(image)}`);
    await addManifest('t-absent', `    sha256: ${sha256(image)}`, `${mirror.base}/dl/other.qcow2`);
    await ensureImage('t-listed', { catalogDir: catalog, cacheDir: cache });
    const env = { ...process.env, CLOUDPROBE_IMAGES_DIR: catalog, CLOUDPROBE_IMAGE_CACHE: cache };
    const r = await execa(process.execPath, ['bin/cloudprobe.js', 'images', 'list', '--json'], { env });
    const rows = JSON.parse(r.stdout) as { name: string; source: string; cached: boolean; sizeBytes: number; path: string }[];
    expect(rows.map((x) => [x.name, x.source, x.cached, x.sizeBytes])).toEqual([
      ['t-absent', 'url', false, 0],
      ['t-listed', 'url', true, image.length],
    ]);
    expect(rows[1]?.path).toBe(join(cache, 't-listed', 'img.qcow2'));
    const text = await execa(process.execPath, ['bin/cloudprobe.js', 'images', 'list'], { env });
    expect(text.stdout).toMatch(/^t-listed +url +yes +3\.0 MiB +\/\S+img\.qcow2$/m);
    // The real catalog: every manifest in images/ is listed.
    const all = await execa(process.execPath, ['bin/cloudprobe.js', 'images', 'list', '--json'], { env: { ...process.env, CLOUDPROBE_IMAGE_CACHE: cache } });
    const names = (JSON.parse(all.stdout) as { name: string }[]).map((x) => x.name);
    expect(names).toEqual(expect.arrayContaining(['cirros-0.6.3', 'ubuntu-22.04', 'ubuntu-24.04', 'debian-12-genericcloud', 'debian-12-eni', 'debian-12-netplan', 'fixture-busybox']));
  });
});

describe('GPG-signed checksum files (real gpg and gpgv, keys made here)', () => {
  let gnupg: string;
  /** The key a test manifest pins (gpg.fingerprint), and another one that is not pinned. */
  let pinned: string;
  let other: string;
  /** Key files: the pinned key alone, the other alone, both in one keyring, the pinned one armored. */
  const keys = { pinned: '', other: '', both: '', armored: '' };
  const gpgEnv = () => ({ ...process.env, GNUPGHOME: gnupg });
  const sums = () => mirror.files.get('/dl/SHA256SUMS') as Buffer;

  async function genKey(uid: string): Promise<string> {
    // Loopback pinentry: an empty passphrase must not depend on a pinentry program being installed.
    await execa('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never'], { env: gpgEnv() });
    const listed = await execa('gpg', ['--batch', '--with-colons', '--list-keys', uid], { env: gpgEnv() });
    const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(listed.stdout)?.[1];
    if (!fpr) throw new Error(`test fixture: no fingerprint for ${uid}:\n${listed.stdout}`);
    return fpr;
  }

  beforeAll(async () => {
    gnupg = await mkdtemp(join(tmpdir(), 'cloudprobe-gnupg-'));
    pinned = await genKey('cloudprobe pinned test key <pinned@example.invalid>');
    other = await genKey('cloudprobe other test key <other@example.invalid>');
    expect(pinned).not.toBe(other);
    const exp = async (file: string, ...args: string[]) => {
      await execa('gpg', ['--batch', '--yes', '--output', file, '--export', ...args], { env: gpgEnv() });
      return file;
    };
    keys.pinned = await exp(join(gnupg, 'pinned.gpg'), pinned);
    keys.other = await exp(join(gnupg, 'other.gpg'), other);
    keys.both = await exp(join(gnupg, 'both.gpg'), pinned, other);
    keys.armored = await exp(join(gnupg, 'pinned.asc'), '--armor', pinned);
  });
  afterAll(async () => {
    await execa('gpgconf', ['--kill', 'all'], { env: gpgEnv(), reject: false });
    await rm(gnupg, { recursive: true, force: true });
  });

  let signed = 0;
  /** A detached signature over `data` by each of `signers` (one signature per key). */
  async function sign(data: Buffer, ...signers: string[]): Promise<Buffer> {
    // Into a file, not read from stdout: execa strips a final "\n" from output, binary output
    // too, and about one signature in 256 ends in byte 0x0a — gpgv then finds "no signature"
    // (the failure seen once on a new machine, gone on the rerun: a new key, another signature).
    const n = ++signed;
    const [dataFile, sigFile] = [join(gnupg, `data-${n}`), join(gnupg, `data-${n}.sig`)];
    await writeFile(dataFile, data);
    const users = (signers.length ? signers : [pinned]).flatMap((k) => ['--local-user', k]);
    await execa('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...users, '--output', sigFile, '--detach-sign', dataFile], { env: gpgEnv() });
    // The fixture itself must be a good signature over `data`: a failure below is then the harness's.
    const check = await execa('gpg', ['--batch', '--verify', sigFile, dataFile], { env: gpgEnv(), reject: false, all: true });
    if (check.exitCode !== 0) throw new Error(`test fixture: gpg made no good signature: ${check.all}`);
    return readFile(sigFile);
  }

  /** The manifest pins the generated key: the real Ubuntu fingerprint is checked in the unit tier. */
  const gpgBlock = (kr: string, fpr = pinned) =>
    `  gpg:\n    signature_url: ${mirror.base}/dl/SHA256SUMS.gpg\n    fingerprint: ${fpr}\n    keyring: ${kr}\n    keyring_hint: from the test-keyring package\n`;
  const sumsChecksum = () => `    sums_url: ${mirror.base}/dl/SHA256SUMS\n    algo: sha256`;
  const absent = () => join(work, 'no-such-keyring.gpg');
  /** No CLOUDPROBE_GPG_KEYRING, CLOUDPROBE_FETCH_KEY or CLOUDPROBE_KEYSERVER of the host's. */
  const hermetic = (env: NodeJS.ProcessEnv = {}) => ({ cacheDir: cache, env });
  const imageFetched = () => mirror.requests.some((r) => r.path === '/dl/img.qcow2');

  async function refused(name: string, keyring: string, opts: Parameters<typeof fetchImage>[1] = hermetic()): Promise<string> {
    await addManifest(name, sumsChecksum(), undefined, gpgBlock(keyring));
    const err = await fetchImage(await getManifest(name, catalog), opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    const msg = (err as Error).message;
    expect(msg, 'one line').not.toContain('\n');
    // Refused before the image was asked for, and nothing was cached.
    expect(imageFetched()).toBe(false);
    expect(await cacheFiles()).toEqual([]);
    return msg;
  }

  it('accepts a good signature by the pinned key from the host keyring', async () => {
    mirror.files.set('/dl/SHA256SUMS.gpg', await sign(sums()));
    await addManifest('t-gpg', sumsChecksum(), undefined, gpgBlock(keys.pinned));
    const lines: string[] = [];
    const img = await fetchImage(await getManifest('t-gpg', catalog), { ...hermetic(), log: (l) => lines.push(l) });
    expect(sha256(await readFile(img.path as string))).toBe(sha256(image));
    expect(lines.join('\n')).toContain(`t-gpg: signature good, by the pinned key ${pinned} (${keys.pinned})`);
  });

  it('refuses a checksum file whose signature does not match, before downloading the image', async () => {
    mirror.files.set('/dl/SHA256SUMS.gpg', await sign(Buffer.from('a different checksum file\n')));
    const msg = await refused('t-gpg-bad', keys.pinned);
    expect(msg).toMatch(/signature check of the checksum file failed \(gpgv with the pinned key [0-9A-F]{40} from .*pinned\.gpg \(from the host keyring\)\): BAD signature/);
  });

  it('refuses a key file that holds another key, naming the file and both fingerprints', async () => {
    mirror.files.set('/dl/SHA256SUMS.gpg', await sign(sums(), other));
    const msg = await refused('t-gpg-wrongkey', keys.other);
    expect(msg).toBe(`t-gpg-wrongkey: keyring ${keys.other} (from the host keyring) does not hold the pinned signing key: expected ${pinned}, found ${other}`);
  });

  it('refuses when no source has the key, naming every way to supply it', async () => {
    mirror.files.set('/dl/SHA256SUMS.gpg', await sign(sums()));
    const msg = await refused('t-gpg-nokey', absent());
    expect(msg).toContain(`t-gpg-nokey: no key to check the checksum signature with (the pinned ${pinned})`);
    expect(msg).toContain('--keyring FILE or CLOUDPROBE_GPG_KEYRING=FILE');
    expect(msg).toContain(`install ${absent()} (absent here: from the test-keyring package)`);
    expect(msg).toContain(`put it at ${join(cache, 'keys', `${pinned}.gpg`)}`);
    expect(msg).toMatch(/--fetch-key or CLOUDPROBE_FETCH_KEY=1/);
    // Not opted in: the keyserver (this mirror, here) was not asked.
    expect(mirror.requests.some((r) => r.path === '/pks/lookup')).toBe(false);
  });

  it('a keyring with the pinned key and another: a signature by the other key is refused', async () => {
    mirror.files.set('/dl/SHA256SUMS.gpg', await sign(sums(), other));
    const msg = await refused('t-gpg-otherkey', keys.both);
    expect(msg).toBe(`t-gpg-otherkey: ${mirror.base}/dl/SHA256SUMS.gpg is signed by ${other}, not by the pinned key ${pinned} (the only key trusted, from ${keys.both} (from the host keyring))`);
  });

  it('the same keyring passes a signature by the pinned key, also next to a signature by the other', async () => {
    mirror.files.set('/dl/SHA256SUMS.gpg', await sign(sums(), pinned, other));
    await addManifest('t-gpg-both', sumsChecksum(), undefined, gpgBlock(keys.both));
    const img = await fetchImage(await getManifest('t-gpg-both', catalog), hermetic());
    expect(sha256(await readFile(img.path as string))).toBe(sha256(image));
    // Two signatures, gpgv given only the pinned key (the other's signature cannot be checked,
    // gpgv exits 2): still good, as the status lines say. A signed file may carry several.
    await rm(join(cache, 't-gpg-both'), { recursive: true });
    await addManifest('t-gpg-two', sumsChecksum(), undefined, gpgBlock(keys.pinned));
    await fetchImage(await getManifest('t-gpg-two', catalog), hermetic());
  });

  it('takes --keyring and CLOUDPROBE_GPG_KEYRING before the host keyring, armored files too', async () => {
    mirror.files.set('/dl/SHA256SUMS.gpg', await sign(sums()));
    await addManifest('t-gpg-given', sumsChecksum(), undefined, gpgBlock(keys.other));
    const m = await getManifest('t-gpg-given', catalog);
    const lines: string[] = [];
    await fetchImage(m, { ...hermetic({ CLOUDPROBE_GPG_KEYRING: keys.other }), keyring: keys.armored, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toContain(`(${keys.armored})`);
    await rm(join(cache, 't-gpg-given'), { recursive: true });
    await fetchImage(m, { ...hermetic({ CLOUDPROBE_GPG_KEYRING: keys.both }), log: (l) => lines.push(l) });
    expect(lines.join('\n')).toContain(`(${keys.both})`);
  });

  it('uses a copy in <cache>/keys/<FINGERPRINT>.gpg when the host has none', async () => {
    mirror.files.set('/dl/SHA256SUMS.gpg', await sign(sums()));
    await mkdir(join(cache, 'keys'), { recursive: true });
    await writeFile(join(cache, 'keys', `${pinned}.gpg`), await readFile(keys.pinned));
    await addManifest('t-gpg-cached', sumsChecksum(), undefined, gpgBlock(absent()));
    const lines: string[] = [];
    await fetchImage(await getManifest('t-gpg-cached', catalog), { ...hermetic(), log: (l) => lines.push(l) });
    expect(lines.join('\n')).toContain(`(${join(cache, 'keys', `${pinned}.gpg`)})`);
  });

  describe('the keyserver, only on an opt-in (here: this loopback mirror as an HKP server)', () => {
    const hkp = () => ({ CLOUDPROBE_KEYSERVER: mirror.base });
    const lookups = () => mirror.requests.filter((r) => r.path === '/pks/lookup');

    it('with --fetch-key: fetches the pinned key, caches it alone, and checks with it', async () => {
      mirror.files.set('/dl/SHA256SUMS.gpg', await sign(sums()));
      // The answer holds both keys: only the pinned one may end up in the cache.
      mirror.files.set('/pks/lookup', await readFile(keys.both));
      await addManifest('t-gpg-fetch', sumsChecksum(), undefined, gpgBlock(absent()));
      const img = await fetchImage(await getManifest('t-gpg-fetch', catalog), { ...hermetic(hkp()), fetchKey: true });
      expect(sha256(await readFile(img.path as string))).toBe(sha256(image));
      expect(lookups().map((r) => r.query)).toEqual([`?op=get&options=mr&search=0x${pinned}`]);
      const cached = join(cache, 'keys', `${pinned}.gpg`);
      const shown = await execa('gpg', ['--batch', '--with-colons', '--show-keys', cached], { env: gpgEnv() });
      expect([...shown.stdout.matchAll(/^fpr:+([0-9A-F]{40}):/gm)].map((x) => x[1])).toEqual([pinned]);
      // Cached now: the next fetch asks no keyserver, even with the opt-in gone.
      await rm(join(cache, 't-gpg-fetch'), { recursive: true });
      await fetchImage(await getManifest('t-gpg-fetch', catalog), hermetic(hkp()));
      expect(lookups()).toHaveLength(1);
    });

    it('without the opt-in it asks no keyserver; CLOUDPROBE_FETCH_KEY=1 is the opt-in too', async () => {
      mirror.files.set('/dl/SHA256SUMS.gpg', await sign(sums()));
      mirror.files.set('/pks/lookup', await readFile(keys.pinned));
      const msg = await refused('t-gpg-nofetch', absent(), hermetic(hkp()));
      expect(msg).toContain(`fetch it from ${mirror.base} with --fetch-key`);
      expect(lookups()).toHaveLength(0);
      await fetchImage(await getManifest('t-gpg-nofetch', catalog), hermetic({ ...hkp(), CLOUDPROBE_FETCH_KEY: '1' }));
      expect(lookups()).toHaveLength(1);
    });

    it('refuses a keyserver answer without the pinned key and caches nothing', async () => {
      mirror.files.set('/dl/SHA256SUMS.gpg', await sign(sums(), other));
      mirror.files.set('/pks/lookup', await readFile(keys.other));
      const msg = await refused('t-gpg-badfetch', absent(), { ...hermetic(hkp()), fetchKey: true });
      expect(msg).toBe(`${mirror.base}/pks/lookup?op=get&options=mr&search=0x${pinned} answered with ${other}, not the pinned key ${pinned}; nothing was cached`);
    });
  });

  describe('cloudprobe images fetch (the CLI)', () => {
    let tmp: string;
    beforeEach(async () => {
      tmp = join(work, 'tmp');
      await mkdir(tmp);
    });
    const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => {
      const base: NodeJS.ProcessEnv = { ...process.env, CLOUDPROBE_IMAGES_DIR: catalog, CLOUDPROBE_IMAGE_CACHE: cache, TMPDIR: tmp };
      for (const k of ['CLOUDPROBE_GPG_KEYRING', 'CLOUDPROBE_FETCH_KEY', 'CLOUDPROBE_KEYSERVER']) delete base[k];
      return execa(process.execPath, ['bin/cloudprobe.js', 'images', 'fetch', ...args], { env: { ...base, ...env }, reject: false, all: true });
    };

    it('--keyring FILE supplies the key; a wrong CLOUDPROBE_GPG_KEYRING is one line, no stack; temp dirs are gone', async () => {
      mirror.files.set('/dl/SHA256SUMS.gpg', await sign(sums()));
      await addManifest('t-gpg-cli', sumsChecksum(), undefined, gpgBlock(absent()));
      const wrong = await cli(['t-gpg-cli'], { CLOUDPROBE_GPG_KEYRING: keys.other });
      expect(wrong.exitCode, wrong.all).toBe(2);
      expect(wrong.stderr.trim()).toBe(`cloudprobe: t-gpg-cli: keyring ${keys.other} (from $CLOUDPROBE_GPG_KEYRING) does not hold the pinned signing key: expected ${pinned}, found ${other}`);
      const missing = await cli(['t-gpg-cli']);
      expect(missing.exitCode, missing.all).toBe(2);
      // One line (execa drops its final newline), no stack trace.
      expect(missing.stderr).toMatch(/^cloudprobe: t-gpg-cli: no key to check the checksum signature with [^\n]*--fetch-key[^\n]*$/);
      const ok = await cli(['t-gpg-cli', '--keyring', keys.pinned], { CLOUDPROBE_GPG_KEYRING: keys.other });
      expect(ok.exitCode, ok.all).toBe(0);
      expect(ok.stdout.trim()).toBe(join(cache, 't-gpg-cli', 'img.qcow2'));
      expect(ok.stderr).toContain(`signature good, by the pinned key ${pinned} (${keys.pinned})`);
      // Every private GnuPG home and copy was removed, on the failures too.
      expect(await readdir(tmp)).toEqual([]);
    });
  });
});
