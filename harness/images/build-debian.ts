// Changing what this builder produces? Bump its entry in BUILDER_VERSIONS (recipe.ts) so cached builds are redone.
import { copyFile, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { UserError } from '../util/errors.ts';
import { needTool, type BuildContext, type BuildOutputs } from './build-types.ts';
import { makeBootableDisk } from './disk-image.ts';
import type { ImageManifest } from './manifest.ts';
import type { DebianRecipe } from './recipe.ts';

export const ROOT_LABEL = 'cloudimg-rootfs';

/** Kernel command line of built images (GRUB's and the exported direct-boot one). */
export function debianCmdline(): string {
  return `root=LABEL=${ROOT_LABEL} ro console=ttyS0,115200n8 net.ifnames=0`;
}

/** Debian builds run as root: mmdebstrap installs packages as root and mke2fs -d must keep file ownership. */
export function assertRoot(image: string, uid: number | undefined = process.getuid?.()): void {
  if (uid !== 0) throw new UserError(`building ${image} needs root (mmdebstrap installs packages as root and mke2fs -d must keep file ownership); run as root or with sudo`);
}

/** apt source lines, with http://deb.debian.org replaced by `$CLOUDPROBE_DEBIAN_MIRROR` when set. */
export function debianSources(recipe: DebianRecipe, env: NodeJS.ProcessEnv = process.env): string[] {
  const mirror = env.CLOUDPROBE_DEBIAN_MIRROR?.replace(/\/+$/, '');
  return recipe.sources.map((s) => (mirror ? s.replace('http://deb.debian.org', mirror) : s));
}

/**
 * cloud-init settings baked into the image: the default user the manifest names (so user data
 * that sets `ubuntu:1` finds the user) and the network renderer of this flavour.
 */
export function cloudInitConfig(m: ImageManifest): string {
  const renderers = m.network_renderer === 'none' ? undefined : [m.network_renderer];
  return `# cloudprobe: written at image build (harness/images/build-debian.ts)\n${stringify({
    // No locale is generated in the image; cloud-init's default (en_US.UTF-8) would make
    // update-locale fail and cloud-config.service error out. C.UTF-8 is built into glibc.
    locale: 'C.UTF-8',
    system_info: {
      default_user: {
        name: m.default_user,
        lock_passwd: true,
        gecos: 'Default cloud user',
        groups: ['adm', 'sudo'],
        sudo: ['ALL=(ALL) NOPASSWD:ALL'],
        shell: '/bin/bash',
      },
      ...(renderers ? { network: { renderers } } : {}),
    },
  })}`;
}

async function rmGlob(dir: string, match: (name: string) => boolean): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const e of entries) if (match(e)) await rm(join(dir, e), { recursive: true, force: true });
}

/** The one file in /boot whose name starts with `prefix` (vmlinuz-…, initrd.img-…). */
async function bootFile(root: string, prefix: string): Promise<string> {
  const found = (await readdir(join(root, 'boot'))).filter((f) => f.startsWith(prefix));
  if (found.length !== 1) throw new Error(`expected one /boot/${prefix}* in the root filesystem, found ${found.length}`);
  return found[0] as string;
}

/** The image must hold exactly the package it was given: a silent fallback would test the archive's. */
async function checkInstalledCloudInit(ctx: BuildContext, root: string, version: string): Promise<void> {
  const q = await ctx.processes.run('chroot', [root, 'dpkg-query', '-W', '-f=${Version}', 'cloud-init'], { reject: false, all: true });
  const installed = (q.stdout ?? '').trim();
  if (q.exitCode !== 0 || installed !== version) {
    throw new UserError(`the built root holds cloud-init ${installed || '(none)'}, not the package's ${version}: ${(q.all ?? '').trim().split('\n')[0]}`);
  }
  ctx.log(`cloud-init ${version} installed from the given package`);
}

/** Image-wide settings and removal of everything that would make two instances share state. */
async function configureRoot(ctx: BuildContext, root: string, recipe: DebianRecipe): Promise<void> {
  const files = ctx.recipe.filesDir;
  const etc = join(root, 'etc');
  await writeFile(join(etc, 'cloud/cloud.cfg.d/90-cloudprobe.cfg'), cloudInitConfig(ctx.manifest));
  await mkdir(join(etc, 'systemd/system/ssh.service.d'), { recursive: true });
  await copyFile(join(files, 'ssh-hostkeys.conf'), join(etc, 'systemd/system/ssh.service.d/10-cloudprobe-hostkeys.conf'));
  await copyFile(join(files, 'fstab'), join(etc, 'fstab'));
  await copyFile(join(files, 'hosts'), join(etc, 'hosts'));
  await writeFile(join(etc, 'hostname'), 'localhost\n');
  await writeFile(join(etc, 'default/locale'), 'LANG=C.UTF-8\n');
  for (const unit of recipe.mask_units) {
    await rm(join(etc, 'systemd/system', unit), { force: true });
    await symlink('/dev/null', join(etc, 'systemd/system', unit));
  }
  for (const unit of recipe.enable_units) await ctx.processes.run('chroot', [root, 'systemctl', 'enable', '--quiet', unit]);
  if (ctx.manifest.network_renderer === 'netplan') {
    // As on Ubuntu: resolved's stub owns resolv.conf.
    await rm(join(etc, 'resolv.conf'), { force: true });
    await symlink('../run/systemd/resolve/stub-resolv.conf', join(etc, 'resolv.conf'));
  }
  // No instance state: each boot must look like a first boot on a fresh cloud instance.
  await writeFile(join(etc, 'machine-id'), '');
  await rm(join(root, 'var/lib/dbus/machine-id'), { force: true });
  await rmGlob(join(etc, 'ssh'), (f) => f.startsWith('ssh_host_'));
  await rmGlob(join(root, 'var/lib/cloud'), () => true);
  await rmGlob(join(root, 'var/lib/dhcp'), () => true);
  await rm(join(root, 'var/lib/systemd/random-seed'), { force: true });
  await rmGlob(join(root, 'var/lib/apt/lists'), (f) => f !== 'partial' && f !== 'lock');
  await rmGlob(join(root, 'var/cache/apt'), (f) => f.endsWith('.bin'));
  await rmGlob(join(root, 'var/log'), (f) => /\.log$|^journal$/.test(f));
  await rmGlob(join(root, 'tmp'), () => true);
}

/**
 * Debian + cloud-init from Debian's packages (docs/facts.md §5): mmdebstrap into a directory, the
 * image settings and clean-up, then a BIOS-bootable qcow2 without loop devices or mounts.
 * Kernel, initrd and kernel command line are exported beside it for a direct-kernel boot.
 */
export async function buildDebian(ctx: BuildContext, recipe: DebianRecipe): Promise<BuildOutputs> {
  assertRoot(ctx.manifest.name);
  const why = `building ${ctx.manifest.name}`;
  const tools = {
    mmdebstrap: await needTool('mmdebstrap', why),
    mke2fs: await needTool('mke2fs', why),
    sfdisk: await needTool('sfdisk', why),
    grubMkimage: await needTool('grub-mkimage', why),
    qemuImg: await needTool('qemu-img', why),
  };
  const root = join(ctx.workDir, 'rootfs');
  const modules = (await readFile(join(ctx.recipe.filesDir, 'initramfs-modules'), 'utf8'));
  // Before packages are configured: a small initramfs (only what finds the root disk in QEMU).
  const essentialHook = [
    'mkdir -p "$1/etc/initramfs-tools/conf.d"',
    `echo MODULES=list > "$1/etc/initramfs-tools/conf.d/cloudprobe"`,
    `printf '%s' '${modules.replace(/'/g, '')}' > "$1/etc/initramfs-tools/modules"`,
  ].join(' && ');
  // The user's cloud-init over the archive's, inside mmdebstrap (its apt sources, mounts and
  // resolver are set up there): apt installs a local file with whatever new dependencies it has,
  // and --allow-downgrades takes a package older than the archive's too. The path travels in the
  // environment, so no shell quoting of a user's file name.
  const deb = ctx.cloudInitDeb;
  const debHook = deb
    ? [
        'cp "$CLOUDPROBE_CLOUD_INIT_DEB" "$1/tmp/cloudprobe-cloud-init.deb"',
        'chroot "$1" apt-get install -y -q --allow-downgrades --no-install-recommends /tmp/cloudprobe-cloud-init.deb',
        'rm -f "$1/tmp/cloudprobe-cloud-init.deb"',
      ].join(' && ')
    : undefined;
  const args = [
    '--variant=minbase',
    `--include=${recipe.packages.join(',')}`,
    `--essential-hook=${essentialHook}`,
    ...(debHook ? [`--customize-hook=${debHook}`] : []),
    ...(recipe.check_valid_until ? [] : ['--aptopt=Acquire::Check-Valid-Until "false"']),
    recipe.suite,
    root,
    ...debianSources(recipe),
  ];
  ctx.log(`mmdebstrap ${recipe.suite} (${recipe.packages.length} packages${deb ? `, then cloud-init ${deb.version} from ${deb.file}` : ''})`);
  const r = await ctx.processes.run(tools.mmdebstrap, args, { reject: false, all: true, env: { DEBIAN_FRONTEND: 'noninteractive', ...(deb ? { CLOUDPROBE_CLOUD_INIT_DEB: deb.file } : {}) } });
  if (r.exitCode !== 0) {
    const tail = (r.all ?? '').split('\n').slice(-15).join('\n');
    throw new UserError(`mmdebstrap failed (exit ${r.exitCode}); it needs the Debian mirror (${debianSources(recipe)[0]}; set CLOUDPROBE_DEBIAN_MIRROR to use another):\n${tail}`);
  }
  if (deb) await checkInstalledCloudInit(ctx, root, deb.version);
  await configureRoot(ctx, root, recipe);

  const kernel = await bootFile(root, 'vmlinuz-');
  const initrd = await bootFile(root, 'initrd.img-');
  const cmdline = debianCmdline();
  await copyFile(join(root, 'boot', kernel), join(ctx.outDir, 'vmlinuz'));
  await copyFile(join(root, 'boot', initrd), join(ctx.outDir, 'initrd.img'));
  await writeFile(join(ctx.outDir, 'cmdline'), `${cmdline}\n`);
  await makeBootableDisk(
    {
      rootfsDir: root,
      workDir: ctx.workDir,
      diskSizeMib: recipe.disk_size_mib,
      label: ROOT_LABEL,
      kernelPath: `/boot/${kernel}`,
      initrdPath: `/boot/${initrd}`,
      cmdline,
      tools,
      run: (file, a, o) => ctx.processes.run(file, a, o),
      log: ctx.log,
    },
    join(ctx.outDir, 'disk.qcow2'),
  );
  return { disk: 'disk.qcow2', kernel: 'vmlinuz', initrd: 'initrd.img', cmdline: 'cmdline' };
}
