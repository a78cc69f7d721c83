import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, findBuilt } from '../../harness/images/build.ts';
import { ensureImage } from '../../harness/images/ensure.ts';
import { getManifest } from '../../harness/images/manifest.ts';

let cache: string;
beforeAll(async () => {
  cache = await mkdtemp(join(tmpdir(), 'cloudprobe-build-'));
});
afterAll(async () => {
  await rm(cache, { recursive: true, force: true });
});

describe('fixture-busybox build (real apt-get download, dpkg-deb, busybox, dropbear)', () => {
  it('builds a kernel and an initramfs that cpio unpacks, with init, busybox, dropbear and modules', async () => {
    const manifest = await getManifest('fixture-busybox');
    const img = await buildImage(manifest, { cacheDir: cache });
    expect(img.path).toBeUndefined();
    expect(img.cmdline).toContain('console=ttyS0');
    const kernel = await readFile(img.kernel as string);
    expect(kernel.subarray(0x202, 0x206).toString()).toBe('HdrS'); // x86 bzImage boot protocol header
    const unpack = join(cache, 'unpacked');
    await mkdir(unpack);
    await execa('cpio', ['-idm', '--quiet', '--no-absolute-filenames'], { cwd: unpack, input: gunzipSync(await readFile(img.initrd as string)) });
    const initScript = await readFile(join(unpack, 'init'), 'utf8');
    expect(initScript).toContain('cloudprobe-fixture: $*');
    expect(initScript).toContain('openstack/latest/meta_data.json');
    const order = (await readFile(join(unpack, 'etc/modules.order'), 'utf8')).trim().split('\n');
    for (const m of ['virtio_net', 'virtio_blk', 'virtio_pci', 'isofs', 'sr_mod', 'vfat']) expect(order.some((p) => p.endsWith(`/${m}.ko`))).toBe(true);
    expect(order.findIndex((p) => p.endsWith('/cdrom.ko'))).toBeLessThan(order.findIndex((p) => p.endsWith('/sr_mod.ko')));
    for (const p of order) await readFile(join(unpack, 'lib/modules', p));
    // dropbear runs in the initramfs with only what was copied in: its loader and libraries.
    const r = await execa('chroot', [unpack, '/sbin/dropbear', '-V'], { reject: false, all: true });
    expect(r.all).toMatch(/Dropbear v\d/);
    expect(await readFile(join(unpack, 'etc/shadow'), 'utf8')).toMatch(/^root:\$6\$/);
    await rm(unpack, { recursive: true });
  });

  it('reuses the cached build of the same recipe; --force rebuilds', async () => {
    const manifest = await getManifest('fixture-busybox');
    const first = await findBuilt(manifest, { cacheDir: cache });
    expect(first).toBeDefined();
    const lines: string[] = [];
    await buildImage(manifest, { cacheDir: cache, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/cached build/);
    expect((await findBuilt(manifest, { cacheDir: cache }))?.record.builtAt).toBe(first?.record.builtAt);
    await buildImage(manifest, { cacheDir: cache, force: true });
    const again = await findBuilt(manifest, { cacheDir: cache });
    expect(again?.record.builtAt).not.toBe(first?.record.builtAt);
    // Nothing half-written or temporary is left beside the build.
    expect(await readdir(join(cache, 'fixture-busybox'))).toEqual([`build-${again?.record.hash}`]);
  });

  it('discards a cached build whose files were modified, and builds it again', async () => {
    const built = await ensureImage('fixture-busybox', { cacheDir: cache });
    await writeFile(built.initrd as string, 'tampered');
    await expect(ensureImage('fixture-busybox', { cacheDir: cache, allowBuild: false })).rejects.toThrow(/is not built; run: cloudprobe images build fixture-busybox/);
    const rebuilt = await ensureImage('fixture-busybox', { cacheDir: cache });
    expect((await readFile(rebuilt.initrd as string)).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    // `images build` does not hand out a damaged cached build either.
    await writeFile(rebuilt.kernel as string, 'tampered');
    const lines: string[] = [];
    const again = await buildImage(await getManifest('fixture-busybox'), { cacheDir: cache, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/cached build is damaged \(.*vmlinuz: .*\); rebuilding/);
    expect((await readFile(again.kernel as string)).subarray(0x202, 0x206).toString()).toBe('HdrS');
  });
});

describe('Debian build preconditions', () => {
  // As another user (nobody) the CLI must still be readable wherever the checkout is — also under
  // a 0700 directory such as `mktemp -d` makes. CAP_DAC_READ_SEARCH (ambient, so node keeps it)
  // lets nobody read through such a parent; it is still uid 65534, which is what the check is about.
  const asUser = (uid: number) => [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search'];
  const cli = (args: string[], env: NodeJS.ProcessEnv, uid?: number) =>
    execa(uid === undefined ? process.execPath : 'setpriv', uid === undefined ? ['bin/cloudprobe.js', ...args] : [...asUser(uid), process.execPath, 'bin/cloudprobe.js', ...args], { env, reject: false, all: true });

  it('refuses to build without root, saying why (CLI run as nobody)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudprobe-nonroot-'));
    try {
      await execa('chmod', ['777', dir]);
      const r = await cli(['images', 'build', 'debian-12-eni'], { ...process.env, CLOUDPROBE_IMAGE_CACHE: dir, HOME: dir }, 65534);
      expect(r.exitCode, r.all).toBe(2);
      expect(r.all).toMatch(/cloudprobe: building debian-12-eni needs root/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the Debian package of a missing build tool', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudprobe-notool-'));
    try {
      const bin = join(dir, 'bin');
      await mkdir(bin);
      await symlink(process.execPath, join(bin, 'node'));
      const r = await cli(['images', 'build', 'debian-12-eni'], { PATH: bin, CLOUDPROBE_IMAGE_CACHE: join(dir, 'cache'), HOME: dir });
      expect(r.exitCode, r.all).toBe(2);
      expect(r.all).toMatch(/building debian-12-eni: mmdebstrap not found .*install the Debian package mmdebstrap/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  /** Processes working in `dir`: its path in their arguments, their cwd or their (chroot) root. */
  async function processesIn(dir: string): Promise<string[]> {
    const found: string[] = [];
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
      const [args, cwd, root, stat] = await Promise.all([
        readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''),
        readlink(`/proc/${pid}/cwd`).catch(() => ''),
        readlink(`/proc/${pid}/root`).catch(() => ''),
        readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''),
      ]);
      if (/\) [ZX] /.test(stat)) continue; // a zombie writes nothing
      if (args.includes(dir) || cwd.startsWith(dir) || root.startsWith(dir)) found.push(`${pid} ${args.replaceAll('\0', ' ').trim()}`);
    }
    return found;
  }

  /**
   * Interrupts a real Debian build when `ready` says the phase is reached, then checks nothing is
   * left: no temp dir, no lock, no mount, no process still at work in the build root.
   */
  async function interruptBuild(ready: (dir: string) => Promise<boolean>): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'cloudprobe-interrupt-'));
    try {
      const child = execa(process.execPath, ['bin/cloudprobe.js', 'images', 'build', 'debian-12-eni'], { env: { ...process.env, CLOUDPROBE_IMAGE_CACHE: dir }, reject: false, all: true, buffer: true });
      let reached = false;
      for (let i = 0; i < 3000 && !reached && child.exitCode === null; i++) {
        reached = await ready(dir);
        if (!reached) await new Promise((r) => setTimeout(r, 100));
      }
      expect(reached, 'the build never reached the phase to interrupt').toBe(true);
      child.kill('SIGINT');
      const r = await child;
      expect(r.exitCode, r.all).toBe(130);
      expect(r.all).toContain('build interrupted; nothing was cached');
      expect(await readFile('/proc/self/mounts', 'utf8')).not.toContain(dir);
      expect(await processesIn(dir)).toEqual([]);
      expect(await readdir(join(dir, 'debian-12-eni'))).toEqual([]);
      expect(await readdir(dir)).toEqual(['debian-12-eni']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('Ctrl-C early in a build (mmdebstrap setting up, downloading) leaves no temp dir, lock, mount or process behind', async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip('Debian builds need root');
    await interruptBuild(async (dir) => (await readFile('/proc/self/mounts', 'utf8')).includes(`${dir}/`));
  }, 600_000);

  it('Ctrl-C while packages are unpacked and configured in the build root (dpkg at work) stops and waits for all of it', async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip('Debian builds need root');
    // The phase seen failing on a cold machine: dpkg writing into <root>/var/lib/dpkg while the
    // root was removed. Wait until a dpkg runs on the root, then interrupt.
    await interruptBuild(async (dir) => (await processesIn(dir)).some((p) => /\bdpkg\b/.test(p) && !/mmdebstrap/.test(p)));
  }, 600_000);
});
