import { rmSync } from 'node:fs';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { processAlive as alive } from '../util/process-alive.ts';

export interface LockOptions {
  /** Called once when another process holds the lock and we start waiting. */
  onWait?: (holderPid: number) => void;
  pollMs?: number;
  /** Give up after this long (default: wait as long as the holder lives). */
  timeoutMs?: number;
}

/**
 * Runs `fn` while holding an exclusive lock file (created with O_EXCL, holding our pid), so two
 * cloudprobe processes sharing a cache never write the same image at once. A lock whose holder
 * died is taken over.
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const started = Date.now();
  let warned = false;
  for (;;) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isFinite(pid) && pid > 0 && !alive(pid)) {
      await rm(path, { force: true });
      continue;
    }
    if (!Number.isFinite(pid)) {
      // Just created by its holder and not yet written: only stale if it stays empty.
      const age = Date.now() - (await stat(path).then((s) => s.mtimeMs).catch(() => Date.now()));
      if (age > 10_000) await rm(path, { force: true });
    }
    if (!warned && Number.isFinite(pid)) {
      opts.onWait?.(pid);
      warned = true;
    }
    if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) {
      throw new Error(`timed out waiting for lock ${path} (held by pid ${pid})`);
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
  }
  // Also released when the process exits mid-way (Ctrl-C ends the CLI through process.exit).
  const release = () => rmSync(path, { force: true });
  process.once('exit', release);
  try {
    return await fn();
  } finally {
    process.removeListener('exit', release);
    await rm(path, { force: true });
  }
}
