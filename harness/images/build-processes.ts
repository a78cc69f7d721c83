import { readdirSync, readFileSync } from 'node:fs';
import { execa, type Options, type Result } from 'execa';

/**
 * Every command a build runs, each in a process group of its own, so that an interrupted build
 * can stop the whole tree — mmdebstrap's apt, dpkg and maintainer scripts keep writing into the
 * build root long after a signal to mmdebstrap alone — and wait until none of it is left before
 * the root is removed (otherwise `rm` races a dpkg still unpacking: ENOTEMPTY, and orphans).
 */
export class BuildProcesses {
  private readonly groups = new Set<number>();
  private stopping: Promise<void> | undefined;

  constructor(private readonly signal?: AbortSignal) {
    signal?.addEventListener('abort', () => void this.stopAll(), { once: true });
  }

  get interrupted(): boolean {
    return this.signal?.aborted === true;
  }

  /** Runs a command (execa semantics) in its own process group, unless the build was interrupted. */
  async run<O extends Options>(file: string, args: readonly string[], opts?: O): Promise<Result<O>> {
    if (this.interrupted) throw new BuildInterrupted();
    const child = execa(file, args, { ...opts, detached: true } as O);
    const pgid = child.pid;
    if (pgid !== undefined) this.groups.add(pgid);
    try {
      const result = (await child) as unknown as Result<O>;
      // A command killed by the interrupt may still exit "normally" (reject: false): not a result.
      if (this.interrupted) throw new BuildInterrupted();
      return result;
    } catch (err) {
      if (this.interrupted) throw new BuildInterrupted();
      throw err;
    } finally {
      // The leader is gone; its group may not be (a daemonised grandchild): stopAll still sees it.
      if (pgid !== undefined && !groupAlive(pgid)) this.groups.delete(pgid);
    }
  }

  /** SIGTERM every group (mmdebstrap unmounts on it), SIGKILL what is left after the grace, wait until all are gone. */
  stopAll(graceMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      signalGroups(this.groups, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (this.live().length > 0 && Date.now() < deadline) await sleep(100);
      signalGroups(this.groups, 'SIGKILL');
      while (this.live().length > 0) await sleep(50);
      this.groups.clear();
    })();
    return this.stopping;
  }

  /** On a hard exit (a second Ctrl-C): SIGKILL every group and wait, synchronously, a few seconds at most. */
  killAllSync(maxMs = 5000): void {
    signalGroups(this.groups, 'SIGKILL');
    const deadline = Date.now() + maxMs;
    while (this.live().length > 0 && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    this.groups.clear();
  }

  private live(): number[] {
    return [...this.groups].filter(groupAlive);
  }
}

/** The build stopped because it was interrupted (not a failure of the recipe). */
export class BuildInterrupted extends Error {
  constructor() {
    super('build interrupted');
  }
}

/**
 * Whether any process of the group still runs. Read from /proc rather than kill(-pgid, 0): an
 * orphaned grandchild that exited stays a zombie until a reaper collects it (on some hosts PID 1
 * never does), and a zombie writes nothing.
 */
function groupAlive(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp …; comm may contain spaces and parentheses: split after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

function signalGroups(groups: Iterable<number>, signal: NodeJS.Signals): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, signal);
    } catch {
      // already gone
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
