import { readFileSync } from 'node:fs';

/**
 * True while a process with this pid runs (EPERM: it exists but belongs to someone else). A
 * zombie does not count: an orphan's exit status may wait long for a reaper (on some hosts PID 1
 * never collects it), and a zombie holds nothing and writes nothing.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return true; // no /proc: trust kill(0)
  }
}
