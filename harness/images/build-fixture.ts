// Changing what this builder produces? Bump its entry in BUILDER_VERSIONS (recipe.ts) so cached builds are redone.
import { copyFile, readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { UserError } from '../util/errors.ts';
import { needTool, type BuildContext, type BuildOutputs } from './build-types.ts';
import { writeCpio, type CpioEntry } from './cpio.ts';
import type { FixtureRecipe } from './recipe.ts';

/** `linux-image-cloud-amd64` is a metapackage: the kernel is in the package it depends on. */
async function kernelPackage(meta: string): Promise<string> {
  const r = await execa('apt-cache', ['depends', '--important', meta], { reject: false });
  const dep = r.stdout.split('\n').map((l) => l.match(/Depends:\s*(linux-image-\S+)/)?.[1]).find(Boolean);
  if (r.exitCode !== 0 || !dep) {
    throw new UserError(`cannot resolve the kernel package behind ${meta} with apt-cache (${(r.stderr || r.stdout).trim() || 'no Depends line'}); run apt-get update`);
  }
  return dep;
}

/** `depends=` from a module's .modinfo section (NUL-separated key=value strings). */
export function modinfoDepends(ko: Buffer): string[] {
  const at = ko.indexOf('\0depends=');
  if (at < 0) return [];
  const end = ko.indexOf(0, at + 1);
  const value = ko.subarray(at + '\0depends='.length, end).toString();
  return value.split(',').filter(Boolean);
}

const modName = (p: string) => p.replace(/^.*\//, '').replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_');

/**
 * Load order (dependencies first) for the wanted modules, from each module's own `depends=`
 * (so no depmod is needed). `modules` maps a path relative to /lib/modules/<version> to the
 * module's contents; names in `builtin` (modules.builtin) are skipped.
 */
export function moduleLoadOrder(modules: Map<string, Buffer>, builtin: string, wanted: string[]): { order: string[]; builtin: string[] } {
  const byName = new Map<string, string>();
  for (const path of modules.keys()) byName.set(modName(path), path);
  const builtinNames = new Set(builtin.split('\n').filter(Boolean).map(modName));
  const order: string[] = [];
  const skipped: string[] = [];
  const visit = (name: string, chain: string[]) => {
    const key = name.replace(/-/g, '_');
    const path = byName.get(key);
    if (!path) {
      if (builtinNames.has(key)) return void skipped.push(name);
      throw new UserError(`kernel module ${name}${chain.length ? ` (needed by ${chain.join(' <- ')})` : ''} is neither a module nor built into this kernel`);
    }
    if (order.includes(path)) return;
    for (const d of modinfoDepends(modules.get(path) as Buffer)) visit(d, [name, ...chain]);
    order.push(path);
  };
  for (const name of wanted) visit(name, []);
  return { order, builtin: skipped };
}

async function walkModules(dir: string, base = dir, out = new Map<string, Buffer>()): Promise<Map<string, Buffer>> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walkModules(p, base, out);
    else if (/\.ko$/.test(e.name)) out.set(relative(base, p), await readFile(p));
  }
  return out;
}

/** Shared libraries a dynamically linked host binary needs, as ldd resolves them. */
async function sharedLibs(binary: string): Promise<string[]> {
  const r = await execa('ldd', [binary]);
  const libs = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    const m = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s+\(/);
    if (m?.[1]) libs.add(m[1]);
  }
  return [...libs];
}

async function fileEntry(path: string, hostPath: string, mode = 0o755): Promise<CpioEntry> {
  return { kind: 'file', path, data: await readFile(await realpath(hostPath)), mode };
}

/** Adds the parent directories of `path` to `dirs` (cpio needs them before their contents). */
function addParents(dirs: Set<string>, path: string): void {
  const parts = path.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
}

/**
 * Debian's cloud kernel + an initramfs of busybox and dropbear whose /init wires up the network,
 * reads config-2 (or the metadata service) for keys and hostname and starts sshd. Seconds to SSH
 * under TCG: a fixture for the VM layer's plumbing tests.
 */
export async function buildFixture(ctx: BuildContext, recipe: FixtureRecipe): Promise<BuildOutputs> {
  const busybox = await needTool('busybox', `building ${ctx.manifest.name}`);
  const dropbear = await needTool('dropbear', `building ${ctx.manifest.name}`);
  const dropbearkey = await needTool('dropbearkey', `building ${ctx.manifest.name}`);

  const pkg = await kernelPackage(recipe.kernel_package);
  ctx.log(`downloading ${pkg} (apt-get download)`);
  const dl = await ctx.processes.run('apt-get', ['download', pkg], { cwd: ctx.workDir, reject: false, all: true });
  if (dl.exitCode !== 0) throw new UserError(`apt-get download ${pkg} failed: ${dl.all?.trim()}`);
  const deb = (await readdir(ctx.workDir)).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${pkg} left no .deb`);
  const root = join(ctx.workDir, 'kernel');
  await ctx.processes.run('dpkg-deb', ['-x', join(ctx.workDir, deb), root]);

  const version = (await readdir(join(root, 'lib/modules')))[0];
  if (!version) throw new Error(`${deb} has no /lib/modules`);
  const modDir = join(root, 'lib/modules', version);
  const modules = await walkModules(modDir);
  const { order, builtin } = moduleLoadOrder(
    modules,
    await readFile(join(modDir, 'modules.builtin'), 'utf8'),
    recipe.modules,
  );
  if (builtin.length) ctx.log(`built into the kernel: ${builtin.join(' ')}`);
  ctx.log(`modules: ${order.length} (${recipe.modules.length} asked, the rest are dependencies)`);

  const hash = (await execa(busybox, ['mkpasswd', '-m', 'sha512', recipe.root_password, 'cloudprobefix'])).stdout.trim();
  const files: CpioEntry[] = [];
  const dirs = new Set(['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'root', 'mnt', 'var', 'lib', 'lib/modules']);

  files.push(await fileEntry('bin/busybox', busybox));
  const applets = (await execa(busybox, ['--list'])).stdout.split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) files.push({ kind: 'symlink', path: `bin/${a}`, target: 'busybox' });
  for (const [dest, src] of [['sbin/dropbear', dropbear], ['bin/dropbearkey', dropbearkey]] as const) {
    files.push(await fileEntry(dest, src));
    for (const lib of await sharedLibs(src)) {
      const dest = lib.replace(/^\//, '');
      if (files.some((f) => f.path === dest)) continue;
      addParents(dirs, dest);
      files.push(await fileEntry(dest, lib));
    }
  }
  for (const mod of order) {
    const dest = `lib/modules/${mod}`;
    addParents(dirs, dest);
    files.push({ kind: 'file', path: dest, data: modules.get(mod) as Buffer, mode: 0o644 });
  }
  const text = (path: string, s: string, mode = 0o644): CpioEntry => ({ kind: 'file', path, data: Buffer.from(s), mode });
  files.push(
    text('etc/modules.order', `${order.join('\n')}\n`),
    text('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'),
    text('etc/shadow', `root:${hash}:19000:0:99999:7:::\n`, 0o600),
    text('etc/group', 'root:x:0:\n'),
    text('etc/shells', '/bin/sh\n/bin/ash\n'),
    text('etc/hostname', 'cloudprobe-fixture\n'),
    text('etc/udhcpc.script', await readFile(join(ctx.recipe.filesDir, 'udhcpc.script'), 'utf8'), 0o755),
    text('init', await readFile(join(ctx.recipe.filesDir, 'init'), 'utf8'), 0o755),
  );
  const entries: CpioEntry[] = [
    ...[...dirs].sort().map((path): CpioEntry => ({ kind: 'dir', path, mode: path === 'root' ? 0o700 : path === 'tmp' ? 0o1777 : 0o755 })),
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
    ...files,
  ];
  const initrd = gzipSync(writeCpio(entries), { level: 9 });
  await writeFile(join(ctx.outDir, 'initrd.img'), initrd);
  await copyFile(join(root, 'boot', `vmlinuz-${version}`), join(ctx.outDir, 'vmlinuz'));
  ctx.log(`kernel ${version}, initramfs ${(initrd.length / 1048576).toFixed(1)} MiB`);
  return { kernel: 'vmlinuz', initrd: 'initrd.img' };
}
