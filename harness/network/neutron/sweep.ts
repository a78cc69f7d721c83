import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandError, ip, listNamespaces, namespacePids } from './ip.ts';
import { parseNamespaceName, parseSocketDirName, runPrefix, SOCKET_DIR_PREFIX } from './names.ts';

/**
 * Leftovers of a run that could not clean up (SIGKILL, power cut of the harness): its
 * namespaces carry the owner's pid in their names (names.ts), and so do its socket dirs. The
 * next run removes those whose owner is gone: processes still inside a namespace first (a
 * dnsmasq or QEMU keeps a deleted namespace alive), then the namespace, then the socket dir.
 *
 * pids come back (pid_max is 32768 on many hosts): the socket dir also records the owner's start
 * time, and a live pid with another start time is another process, so its leftovers are stale.
 */

const OWNER_FILE = 'owner';

/** The process's start time (clock ticks after boot, /proc/<pid>/stat field 22), undefined when gone. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  // The command name (field 2) may hold spaces and parentheses: count from its closing one.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/**
 * True while the process exists and is not a zombie. A killed process stays listed as a zombie
 * until it is reaped, and an init that reaps late (as in some containers) keeps it so for long.
 */
export async function processRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  return state !== 'Z' && state !== 'X';
}

/** Records who owns a socket dir: `<pid> <start time>` (`-` when the pid is not running, as in tests). */
export async function writeOwnerStamp(socketDir: string, pid: number): Promise<void> {
  await writeFile(join(socketDir, OWNER_FILE), `${pid} ${(await processStartTime(pid)) ?? '-'}\n`);
}

async function ownerAlive(pid: number, cell: string, root: string, alive: ((pid: number) => boolean) | undefined): Promise<boolean> {
  if (!(alive ? alive(pid) : await processRunning(pid))) return false;
  const stamp = await readFile(join(root, `${SOCKET_DIR_PREFIX}${runPrefix(pid)}-${cell}`, OWNER_FILE), 'utf8').catch(() => '');
  const recorded = stamp.trim().split(' ')[1];
  if (!recorded || recorded === '-') return true;
  const now = await processStartTime(pid);
  return now === undefined || now === recorded;
}

const KILL_WAIT_MS = 5_000;

/** Kills every process inside `namespace` and waits (bounded) until they are gone. */
export async function killNamespaceProcesses(namespace: string): Promise<number[]> {
  const pids = await namespacePids(namespace).catch(() => [] as number[]);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + KILL_WAIT_MS;
  const running = async () => (await Promise.all(pids.map(processRunning))).some(Boolean);
  while ((await running()) && Date.now() < deadline) await sleep(20);
  return pids;
}

/** Deletes a namespace after killing what runs in it; a namespace already gone is fine. */
export async function removeNamespace(namespace: string): Promise<number[]> {
  const killed = await killNamespaceProcesses(namespace);
  try {
    await ip(['netns', 'del', namespace]);
  } catch (err) {
    if (!(err instanceof CommandError && /No such file|not found/i.test(err.message))) throw err;
  }
  return killed;
}

export interface SweepResult {
  namespaces: string[];
  socketDirs: string[];
  /** Pids killed inside those namespaces. */
  killed: number[];
  /** What could not be removed (e.g. another run sweeping the same leftovers at the same moment). */
  errors: string[];
}

export interface SweepOptions {
  /** Where socket dirs live; the system temp dir by default. */
  socketRoot?: string;
  /** Which owners count as alive (tests); default: the process runs (not a zombie) and its start time matches. */
  alive?: (pid: number) => boolean;
}

export async function sweepStale(opts: SweepOptions = {}): Promise<SweepResult> {
  const alive = opts.alive;
  const root = opts.socketRoot ?? tmpdir();
  const result: SweepResult = { namespaces: [], socketDirs: [], killed: [], errors: [] };
  for (const name of await listNamespaces()) {
    const owner = parseNamespaceName(name);
    if (!owner || (await ownerAlive(owner.pid, owner.cell, root, alive))) continue;
    try {
      result.killed.push(...(await removeNamespace(name)));
      result.namespaces.push(name);
    } catch (err) {
      result.errors.push(`${name}: ${(err as Error).message}`);
    }
  }
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const owner = parseSocketDirName(name);
    if (!owner || (await ownerAlive(owner.pid, owner.cell, root, alive))) continue;
    await rm(join(root, name), { recursive: true, force: true });
    result.socketDirs.push(join(root, name));
  }
  return result;
}
