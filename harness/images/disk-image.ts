// Changing what this builder produces? Bump its entry in BUILDER_VERSIONS (recipe.ts) so cached builds are redone.
import { open, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const MIB = 1024 * 1024;
/** The root partition starts at 1 MiB; GRUB's core.img lives in the gap before it. */
export const PARTITION_OFFSET = MIB;

export interface DiskImageInput {
  rootfsDir: string;
  workDir: string;
  diskSizeMib: number;
  label: string;
  /** Kernel and initrd paths inside the root filesystem, and the kernel command line. */
  kernelPath: string;
  initrdPath: string;
  cmdline: string;
  tools: { mke2fs: string; sfdisk: string; grubMkimage: string; qemuImg: string };
  /** Runs a command the way the build does (BuildProcesses.run: its own process group, stopped on interrupt). */
  run: (file: string, args: readonly string[], opts?: { input?: string }) => Promise<unknown>;
  grubDir?: string;
  log: (line: string) => void;
}

/** GRUB config embedded in core.img: serial console, no menu, straight into the kernel. */
export function grubConfig(i: Pick<DiskImageInput, 'kernelPath' | 'initrdPath' | 'cmdline'>): string {
  return [
    'serial --unit=0 --speed=115200',
    'terminal_input serial console',
    'terminal_output serial console',
    'set timeout=0',
    'set root=(hd0,msdos1)',
    `linux ${i.kernelPath} ${i.cmdline}`,
    `initrd ${i.initrdPath}`,
    'boot',
    '',
  ].join('\n');
}

/** Copies `src` into `dst` at `offset`, leaving all-zero blocks as holes (the disk stays sparse). */
async function copyInto(src: string, dst: string, offset: number): Promise<void> {
  const from = await open(src, 'r');
  const to = await open(dst, 'r+');
  try {
    const buf = Buffer.alloc(4 * MIB);
    const zero = Buffer.alloc(buf.length);
    for (let pos = 0; ; ) {
      const { bytesRead } = await from.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      if (!chunk.equals(zero.subarray(0, bytesRead))) await to.write(chunk, 0, bytesRead, offset + pos);
      pos += bytesRead;
    }
  } finally {
    await from.close();
    await to.close();
  }
}

/**
 * A BIOS-bootable qcow2 from a root directory, with no loop devices and no mounts:
 * `mke2fs -d` fills the filesystem from the directory, `sfdisk` writes an MBR on a plain file,
 * the filesystem is copied in at 1 MiB, GRUB's boot.img (first 440 bytes, keeping the partition
 * table) and core.img (sector 1 on) are written, then `qemu-img convert -c` compresses it.
 */
export async function makeBootableDisk(i: DiskImageInput, qcow2Out: string): Promise<void> {
  const grubDir = i.grubDir ?? '/usr/lib/grub/i386-pc';
  const fsImg = join(i.workDir, 'rootfs.ext4');
  const raw = join(i.workDir, 'disk.raw');
  const fsBytes = i.diskSizeMib * MIB - PARTITION_OFFSET;

  i.log(`mke2fs -d (${i.diskSizeMib - 1} MiB ext4, label ${i.label})`);
  await writeFile(fsImg, '');
  await truncate(fsImg, fsBytes);
  await i.run(i.tools.mke2fs, ['-q', '-F', '-t', 'ext4', '-L', i.label, '-d', i.rootfsDir, fsImg]);

  await writeFile(raw, '');
  await truncate(raw, i.diskSizeMib * MIB);
  await i.run(i.tools.sfdisk, ['--quiet', raw], { input: `label: dos\nstart=${PARTITION_OFFSET / 512}, type=83, bootable\n` });
  await copyInto(fsImg, raw, PARTITION_OFFSET);

  const cfg = join(i.workDir, 'grub-early.cfg');
  const core = join(i.workDir, 'core.img');
  await writeFile(cfg, grubConfig(i));
  await i.run(i.tools.grubMkimage, [
    '-O', 'i386-pc', '-d', grubDir, '-o', core, '-c', cfg, '-p', '(hd0,msdos1)/boot/grub',
    'biosdisk', 'part_msdos', 'ext2', 'linux', 'normal', 'serial', 'terminal', 'echo', 'configfile', 'test', 'gzio',
  ]);
  const coreImg = await readFile(core);
  if (coreImg.length > PARTITION_OFFSET - 512) throw new Error(`GRUB core.img is ${coreImg.length} bytes: does not fit before the partition`);
  const bootImg = await readFile(join(grubDir, 'boot.img'));
  const fh = await open(raw, 'r+');
  try {
    await fh.write(bootImg, 0, 440, 0);
    await fh.write(coreImg, 0, coreImg.length, 512);
  } finally {
    await fh.close();
  }

  i.log('qemu-img convert -O qcow2 -c');
  await i.run(i.tools.qemuImg, ['convert', '-q', '-f', 'raw', '-O', 'qcow2', '-c', raw, qcow2Out]);
}
