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
  requests: { path: string; range?: string; status: number }[];
}

async function startMirror(): Promise<Mirror> {
  const m: Omit<Mirror, 'server' | 'base'> = { files: new Map(), cutOnce: new Map(), chunkDelayMs: 0, holdUntilSums: 0, requests: [] };
  const server = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const body = m.files.get(path);
      const range = req.headers.range;
      if (!body) {
        m.requests.push({ path, range, status: 404 });
        res.writeHead(404).end('not found');
        return;
      }
      let start = 0;
      let status = 200;
      if (range) {
        const r = /^bytes=(\d+)-$/.exec(range);
        start = Number(r?.[1] ?? 0);
        if (start >= body.length) {
          m.requests.push({ path, range, status: 416 });
          res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
          return;
        }
        status = 206;
      }
      m.requests.push({ path, range, status });
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

describe('GPG-signed checksum files (real gpg and gpgv)', () => {
  let gnupg: string;
  let keyring: string;
  const sums = () => mirror.files.get('/dl/SHA256SUMS') as Buffer;

  beforeAll(async () => {
    gnupg = await mkdtemp(join(tmpdir(), 'cloudprobe-gnupg-'));
    const env = { ...process.env, GNUPGHOME: gnupg };
    // Loopback pinentry: an empty passphrase must not depend on a pinentry program being installed.
    await execa('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'cloudprobe test <test@example.invalid>', 'ed25519', 'sign', 'never'], { env });
    keyring = join(gnupg, 'keyring.gpg');
    await execa('gpg', ['--batch', '--output', keyring, '--export'], { env });
  });
  afterAll(async () => {
    await execa('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: gnupg }, reject: false });
    await rm(gnupg, { recursive: true, force: true });
  });

  let signed = 0;
  async function sign(data: Buffer): Promise<Buffer> {
    // Into a file, not read from stdout: execa strips a final "\n" from output, binary output
    // too, and about one signature in 256 ends in byte 0x0a — gpgv then finds "no signature"
    // (the failure seen once on a new machine, gone on the rerun: a new key, another signature).
    const n = ++signed;
    const [dataFile, sigFile] = [join(gnupg, `data-${n}`), join(gnupg, `data-${n}.sig`)];
    const env = { ...process.env, GNUPGHOME: gnupg };
    await writeFile(dataFile, data);
    await execa('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--output', sigFile, '--detach-sign', dataFile], { env });
    // The fixture itself must be a good signature over `data`: a failure below is then the harness's.
    const check = await execa('gpg', ['--batch', '--verify', sigFile, dataFile], { env, reject: false, all: true });
    if (check.exitCode !== 0) throw new Error(`test fixture: gpg made no good signature: ${check.all}`);
    return readFile(sigFile);
  }

  const gpgBlock = (kr: string) => `  gpg:\n    signature_url: ${mirror.base}/dl/SHA256SUMS.gpg\n    keyring: ${kr}\n    keyring_hint: from the test-keyring package\n`;
  const sumsChecksum = () => `    sums_url: ${mirror.base}/dl/SHA256SUMS\n    algo: sha256`;

  it('accepts a good signature', async () => {
    mirror.files.set('/dl/SHA256SUMS.gpg', await sign(sums()));
    await addManifest('t-gpg', sumsChecksum(), undefined, gpgBlock(keyring));
    const lines: string[] = [];
    const img = await fetchImage(await getManifest('t-gpg', catalog), { cacheDir: cache, log: (l) => lines.push(l) });
    expect(sha256(await readFile(img.path as string))).toBe(sha256(image));
    expect(lines.join('\n')).toMatch(/signature good/);
  });

  it('refuses a checksum file whose signature does not match, before downloading the image', async () => {
    mirror.files.set('/dl/SHA256SUMS.gpg', await sign(Buffer.from('a different checksum file\n')));
    await addManifest('t-gpg-bad', sumsChecksum(), undefined, gpgBlock(keyring));
    await expect(fetchImage(await getManifest('t-gpg-bad', catalog), { cacheDir: cache })).rejects.toThrow(/signature check of the checksum file failed \(gpgv/);
    expect(mirror.requests.some((r) => r.path === '/dl/img.qcow2')).toBe(false);
    expect(await cacheFiles()).toEqual([]);
  });

  it('says clearly when the keyring is not available, naming its package', async () => {
    mirror.files.set('/dl/SHA256SUMS.gpg', await sign(sums()));
    await addManifest('t-gpg-nokey', sumsChecksum(), undefined, gpgBlock(join(work, 'no-such-keyring.gpg')));
    await expect(fetchImage(await getManifest('t-gpg-nokey', catalog), { cacheDir: cache })).rejects.toThrow(
      /keyring .*no-such-keyring\.gpg is not available \(from the test-keyring package\)/,
    );
  });
});
