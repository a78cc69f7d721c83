import { readFile } from 'node:fs/promises';

/**
 * A process's peak resident set (VmHWM in /proc/<pid>/status), in KiB; undefined once it has
 * exited or where /proc does not say. Read just before QEMU is stopped: the high-water mark is
 * what sizes `--jobs` (guest RAM + QEMU + the TCG translation cache), not the size at any instant.
 */
export async function peakRssKiB(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) : undefined;
}
