import { rmSync } from 'node:fs';

/**
 * Everything the harness must tear down if it is interrupted: live QEMU processes and temp dirs.
 * SIGKILL of the harness is covered separately: each QEMU runs under `setpriv --pdeathsig KILL`.
 * On SIGINT/SIGTERM we stop what is registered, then re-raise the signal so the process still
 * ends the way its parent expects — unless another listener for that signal owns the exit.
 */

type Stopper = () => Promise<void>;

const stoppers = new Map<number, { stop: Stopper; pid: number }>();
const tempDirs = new Set<string>();
let nextId = 1;
let installed = false;

export function registerProcess(pid: number, stop: Stopper): () => void {
  installHandlers();
  const id = nextId++;
  stoppers.set(id, { stop, pid });
  return () => stoppers.delete(id);
}

export function registerTempDir(dir: string): () => void {
  installHandlers();
  tempDirs.add(dir);
  return () => tempDirs.delete(dir);
}

/** Stops every registered process and removes every registered temp dir. */
export async function cleanupAll(): Promise<void> {
  const all = [...stoppers.values()];
  stoppers.clear();
  await Promise.allSettled(all.map((s) => s.stop()));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  // Another listener (e.g. `cloudprobe run`, which writes its reports first) owns the process's
  // exit; alone, we end the process the way its parent expects, by re-raising the signal.
  const ownsExit = process.listenerCount(signal) === 1;
  if (stoppers.size + tempDirs.size > 0) process.stderr.write(`cloudprobe: ${signal}: stopping ${stoppers.size} VM(s) and cleaning up\n`);
  const hardStop = setTimeout(() => killAllNow(), 15_000);
  hardStop.unref();
  void cleanupAll().finally(() => {
    if (!ownsExit) return;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.kill(process.pid, signal);
  });
}

/** Last resort on process exit: synchronous SIGKILL and rm. */
function killAllNow(): void {
  for (const { pid } of stoppers.values()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  stoppers.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', killAllNow);
}
