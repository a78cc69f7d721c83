import { execa } from 'execa';
import { requireTool } from '../host/tools.ts';

/** Format of an image file as qemu-img sees it (qcow2, raw, …). */
export async function imageFormat(path: string): Promise<string> {
  const qemuImg = await requireTool('qemu-img');
  const r = await execa(qemuImg, ['info', '--output=json', path]);
  const format = (JSON.parse(r.stdout) as { format?: string }).format;
  if (!format) throw new Error(`qemu-img info ${path}: no format reported`);
  return format;
}

/**
 * A throw-away qcow2 overlay on `base`: the guest writes there, the cached image stays pristine.
 * The backing format is stated (-F) so QEMU never probes a raw file's content for a header.
 */
export async function createOverlay(base: string, overlay: string, baseFormat?: string): Promise<void> {
  const qemuImg = await requireTool('qemu-img');
  const fmt = baseFormat ?? (await imageFormat(base));
  await execa(qemuImg, ['create', '-q', '-f', 'qcow2', '-F', fmt, '-b', base, overlay]);
}
