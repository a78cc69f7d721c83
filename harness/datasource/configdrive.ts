import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { execa } from 'execa';
import { requireTool, which } from '../host/tools.ts';
import type { Instance } from '../model/instance.ts';
import { configDriveFiles, type Random } from './nova-metadata.ts';

/** nova/virt/configdrive.py: the label cloud-init and Cirros look for. */
export const CONFIG_DRIVE_LABEL = 'config-2';
/** nova's vfat drives are a fixed 64 MiB. */
export const VFAT_SIZE_BYTES = 64 * 1024 * 1024;
const PUBLISHER = 'OpenStack Nova cloudprobe';

export type ConfigDriveFormat = 'iso9660' | 'vfat';

export interface BuildConfigDriveOptions {
  format: ConfigDriveFormat;
  output: string;
  /** random_seed source (tests pass a seeded one to compare bytes). */
  random?: Random;
}

/** Writes the drive tree (as `configDriveFiles` gives it) under `dir`. */
export async function writeTree(dir: string, files: Map<string, Buffer>): Promise<void> {
  for (const [rel, data] of files) {
    const p = join(dir, rel);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, data);
  }
}

/**
 * Builds a config drive image for `instance`: nova's full tree in a temp dir, then an iso9660
 * (Rock Ridge + Joliet, nova's genisoimage flags) or a 64 MiB vfat image (mkfs.vfat + mtools, no
 * root, no mounts). Atomic: the image appears at `output` complete or not at all; the temp dir
 * and any partial image are always removed.
 */
export async function buildConfigDrive(instance: Instance, opts: BuildConfigDriveOptions): Promise<void> {
  const files = configDriveFiles(instance, opts.random ? { random: opts.random } : {});
  const tree = await mkdtemp(join(tmpdir(), 'cloudprobe-drive-'));
  const partial = `${opts.output}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeTree(tree, files);
    await mkdir(dirname(opts.output), { recursive: true });
    if (opts.format === 'iso9660') await makeIso(tree, partial);
    else await makeVfat(tree, partial);
    await rename(partial, opts.output);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}

async function makeIso(tree: string, out: string): Promise<void> {
  // genisoimage is what nova runs, and starts ~10× faster than xorriso; xorriso is the fallback.
  const iso = (await which('genisoimage')) ?? (await requireTool('iso9660 builder'));
  // nova's exact genisoimage options; xorriso understands them in its mkisofs emulation.
  const mkisofsArgs = ['-o', out, '-ldots', '-allow-lowercase', '-allow-multidot', '-l', '-publisher', PUBLISHER, '-quiet', '-J', '-r', '-V', CONFIG_DRIVE_LABEL, tree];
  const args = basename(iso) === 'xorriso' ? ['-as', 'mkisofs', ...mkisofsArgs] : mkisofsArgs;
  await run(iso, args);
}

async function makeVfat(tree: string, out: string): Promise<void> {
  const mkfs = await requireTool('mkfs.vfat');
  const mcopy = await requireTool('mcopy');
  await writeFile(out, '');
  await truncate(out, VFAT_SIZE_BYTES);
  // mkfs.vfat writes the label to the boot sector and the root directory (blkid: LABEL=config-2).
  await run(mkfs, ['-n', CONFIG_DRIVE_LABEL, out]);
  await run(mcopy, ['-o', '-s', '-i', out, join(tree, 'openstack'), join(tree, 'ec2'), '::/'], { MTOOLS_SKIP_CHECK: '1' });
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  const r = await execa(cmd, args, { reject: false, all: true, env: { ...env, LC_ALL: 'C' }, timeout: 60_000 });
  if (r.exitCode !== 0 || r.failed) {
    throw new Error(`${basename(cmd)} failed (exit ${r.exitCode ?? r.signal}): ${(r.all ?? '').trim().split('\n').slice(-5).join('\n')}`);
  }
}
