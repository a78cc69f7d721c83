import { rmSync } from 'node:fs';

/**
 * The last resort when the process exits without unwinding (a second Ctrl-C, `process.exit` in a
 * crash): synchronously SIGKILL every live QEMU and remove every registered temp dir. Teardown
 * itself belongs to the run session's cleanup stacks (harness/run/); this guard only catches
 * what an abrupt exit skipped, and installs no signal handlers — the one interrupt handler is the
 * entry point's (harness/run/interrupt.ts). SIGKILL of the harness is covered separately: each
 * QEMU runs under `setpriv --pdeathsig KILL`, and the next run sweeps stale work dirs.
 */

const pids = new Map<number, number>();
const tempDirs = new Set<string>();
let nextId = 1;
let installed = false;

export function guardProcess(pid: number): () => void {
  install();
  const id = nextId++;
  pids.set(id, pid);
  return () => pids.delete(id);
}

export function guardTempDir(dir: string): () => void {
  install();
  tempDirs.add(dir);
  return () => tempDirs.delete(dir);
}

function killAllNow(): void {
  for (const pid of pids.values()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  pids.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllNow);
}
