import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive as alive } from '../util/process-alive.ts';

const PREFIX = 'cloudprobe-vm-';
const OWNER = 'owner.pid';

/**
 * A VM's work dir (overlay, config drive, serial log, QMP socket) under the system temp dir,
 * short enough for a unix socket path. It records its owner's pid: a harness killed with
 * SIGKILL cannot clean up, so the next run removes dirs whose owner is gone.
 */
export async function createWorkDir(): Promise<string> {
  await sweepStaleWorkDirs();
  const dir = await mkdtemp(join(tmpdir(), PREFIX));
  await writeFile(join(dir, OWNER), `${process.pid}\n`);
  return dir;
}

/** Marks a work dir as kept on purpose: no later sweep removes it. */
export async function markKept(dir: string): Promise<void> {
  await rm(join(dir, OWNER), { force: true });
}

export async function sweepStaleWorkDirs(root = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(root, name);
    const pid = Number((await readFile(join(dir, OWNER), 'utf8').catch(() => '')).trim());
    if (!pid || alive(pid)) continue;
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}
