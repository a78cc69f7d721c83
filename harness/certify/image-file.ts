import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { execa } from 'execa';
import { requireTool } from '../host/tools.ts';
import { sha256File } from '../images/verify.ts';
import { UserError } from '../util/errors.ts';

/** What `qemu-img info` and a digest say about the file being certified. */
export interface ImageFile {
  path: string;
  /** Name in cell ids and reports: `certify-<file name without extension>`, path-safe. */
  name: string;
  format: 'qcow2' | 'raw';
  virtualSizeBytes: number;
  fileSizeBytes: number;
  sha256: string;
  /** A qcow2 on a backing file: the card names the chain, the VM's overlay sits on top of it. */
  backingFile?: string;
}

/** `certify-` + the file's name, lower case, without its image extension: what a cell id allows. */
export function certifyName(path: string): string {
  const stem = basename(path).replace(/\.(qcow2|img|raw|qcow)$/i, '');
  const safe = stem.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 60).replace(/[^a-z0-9]+$/, '');
  return `certify-${safe || 'image'}`;
}

/** The file must be a qcow2 or raw disk image; anything else is one line naming it. */
export async function describeImageFile(file: string): Promise<ImageFile> {
  const path = resolve(file);
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new UserError(`certify ${file}: no such file`);
  if (!st.isFile()) throw new UserError(`certify ${file}: not a regular file`);
  const qemuImg = await requireTool('qemu-img');
  const r = await execa(qemuImg, ['info', '--output=json', path], { reject: false, timeout: 60_000 });
  if (r.exitCode !== 0) throw new UserError(`certify ${file}: qemu-img cannot read it: ${(r.stderr || r.stdout).split('\n')[0]}`);
  const info = JSON.parse(r.stdout) as { format?: string; 'virtual-size'?: number; 'backing-filename'?: string };
  if (info.format !== 'qcow2' && info.format !== 'raw') throw new UserError(`certify ${file}: a ${info.format ?? 'unknown'} image; certify boots qcow2 or raw disk images`);
  // qemu-img calls any file "raw": a raw image too small for a partition table is not a disk.
  if (info.format === 'raw' && st.size < 1024 * 1024) throw new UserError(`certify ${file}: ${st.size} bytes is no disk image (qemu-img sees only raw bytes)`);
  return {
    path,
    name: certifyName(path),
    format: info.format,
    virtualSizeBytes: info['virtual-size'] ?? 0,
    fileSizeBytes: st.size,
    sha256: await sha256File(path),
    ...(info['backing-filename'] ? { backingFile: info['backing-filename'] } : {}),
  };
}
