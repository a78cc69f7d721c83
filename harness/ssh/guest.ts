import { setTimeout as sleep } from 'node:timers/promises';
import { asRoot, shellJoin } from '../util/shell.ts';
import type { ExecResult } from './client.ts';

/**
 * A handle on a running guest, in the style of the NixOS test driver's `Machine`: commands as
 * argv (quoted once, here) or as an explicit shell line, `succeed` for commands that must work,
 * `readFile` that tells a missing file from one it could not read, and `waitUntil`. A recording
 * view (`recording()`) keeps every command it ran and what came back: that is a probe's evidence.
 *
 * Exceptions mean the harness could not look (lost SSH, a timeout, a command that had to work and
 * did not); a probe that wants to judge such a result catches it, otherwise it becomes an `error`
 * verdict (harness/probes/define.ts), never a `fail`.
 */

/** What comes with a command line to the transport. */
export interface GuestExecRequest {
  timeoutMs: number;
  /**
   * Set when the line is a root command wrapped for sudo: the command itself, so that a transport
   * running several root commands at once (harness/ssh/batch.ts) can put them under one sudo.
   */
  rootCommand?: string;
}

/** How commands reach the guest: one shell command line in, its exit and output out (SshSession fits). */
export interface GuestTransport {
  exec(command: string, opts: GuestExecRequest): Promise<ExecResult>;
}

/** argv (each word quoted for the shell) or a shell line taken as written (pipes, `||`, loops). */
export type GuestCommand = readonly string[] | { shell: string };

export interface GuestExecOptions {
  /** Run as root: directly when logged in as root, else through `sudo -n sh -c`. */
  root?: boolean;
  timeoutMs?: number;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;

/** The command line a GuestCommand stands for, before any root wrapping: what evidence shows. */
export function commandLine(cmd: GuestCommand): string {
  return 'shell' in cmd ? cmd.shell : shellJoin(cmd);
}

/**
 * What evidence shows for one result, exactly as reports have always shown it: stdout, then
 * stderr marked `[stderr]`, trailing whitespace trimmed, and `[exit N]` unless it exited 0.
 */
export function formatResult(r: ExecResult): string {
  return `${outputText(r)}${r.code === 0 ? '' : `\n[exit ${r.code ?? r.signal ?? 'none'}]`}`;
}

function outputText(r: ExecResult): string {
  return `${r.stdout}${r.stderr ? `${r.stdout && !r.stdout.endsWith('\n') ? '\n' : ''}[stderr] ${r.stderr}` : ''}`.trimEnd();
}

/** Command → output (`$ cmd` keys) and free-form notes, in the order they happened. */
export class EvidenceLog {
  readonly items: Record<string, string> = {};

  command(line: string, output: string): void {
    this.items[`$ ${line}`] = output;
  }

  note(key: string, value: string): void {
    this.items[key] = value;
  }

  get empty(): boolean {
    return Object.keys(this.items).length === 0;
  }
}

/** A command that had to succeed did not: the harness could not look. */
export class GuestCommandError extends Error {
  override name = 'GuestCommandError';
  constructor(
    readonly command: string,
    readonly result: ExecResult,
    /** Why it counts as failed, when the exit status alone does not say (e.g. "exists but unreadable"). */
    why?: string,
  ) {
    const detail = formatResult(result).replace(/\s+/g, ' ').trim();
    super(`${command}: ${why ?? `exit ${result.code ?? result.signal ?? 'none'}`}${detail ? ` (${detail.length > 240 ? `${detail.slice(0, 240)}…` : detail})` : ''}`);
  }

  get code(): number | null {
    return this.result.code;
  }

  /** stdout and stderr as evidence shows them. */
  get output(): string {
    return formatResult(this.result);
  }
}

/** A command got no result at all: the transport failed (SSH lost), it timed out, or its channel closed without an exit status. */
export class GuestNoResultError extends Error {
  override name = 'GuestNoResultError';
}

/** waitUntil's condition did not hold within its time. */
export class GuestTimeoutError extends Error {
  override name = 'GuestTimeoutError';
}

export class Guest {
  constructor(
    private readonly transport: GuestTransport,
    /** The login user: root commands go through sudo unless this is root. */
    readonly user: string,
    private readonly opts: { timeoutMs?: number; evidence?: EvidenceLog } = {},
  ) {}

  /** A view of the same guest that records what it runs, for one probe: its evidence is exactly what this view saw. */
  recording(): Guest {
    return new Guest(this.transport, this.user, { ...this.opts, evidence: new EvidenceLog() });
  }

  /** Commands and notes this view recorded (empty for a view that does not record). */
  get evidence(): Record<string, string> {
    return { ...(this.opts.evidence?.items ?? {}) };
  }

  /** Evidence that is not a command of this guest (an HTTP log, a separate SSH login). */
  note(key: string, value: string): void {
    this.opts.evidence?.note(key, value);
  }

  /**
   * Runs a command; any exit status is a result, recorded as evidence. Throws GuestNoResultError
   * when there is no result at all (SSH lost, a timeout, a channel closed without exit status).
   */
  async exec(cmd: GuestCommand, opts: GuestExecOptions = {}): Promise<ExecResult> {
    const line = commandLine(cmd);
    let r: ExecResult;
    try {
      const sent = opts.root ? asRoot(this.user, line) : line;
      r = await this.transport.exec(sent, { timeoutMs: opts.timeoutMs ?? this.opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, ...(sent !== line ? { rootCommand: line } : {}) });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.opts.evidence?.command(line, `[no result: ${message}]`);
      throw new GuestNoResultError(`${line}: ${message}`, { cause: err });
    }
    // SSH sends exit-status or exit-signal for every command that ended; neither means the
    // channel was torn down under it (the connection dropped).
    if (r.code === null && !r.signal) {
      this.opts.evidence?.command(line, `${outputText(r)}\n[no exit status: the connection closed]`.trimStart());
      throw new GuestNoResultError(`${line}: the channel closed without an exit status (connection lost?)`);
    }
    this.opts.evidence?.command(line, formatResult(r));
    return { ...r, command: line };
  }

  /** Runs a command that must exit 0 and returns its stdout; otherwise throws GuestCommandError. */
  async succeed(cmd: GuestCommand, opts: GuestExecOptions = {}): Promise<string> {
    const r = await this.exec(cmd, opts);
    if (r.code !== 0) throw new GuestCommandError(r.command, r);
    return r.stdout;
  }

  /**
   * A file's content, or undefined when it does not exist. `cat` runs first (so evidence shows
   * `$ cat PATH` as before); only when it fails does `test -e` decide between "absent" (undefined)
   * and "there but unreadable" (GuestCommandError: the harness could not look).
   */
  async readFile(path: string, opts: GuestExecOptions = {}): Promise<string | undefined> {
    const r = await this.exec(['cat', path], opts);
    if (r.code === 0) return r.stdout;
    const exists = await this.exec(['test', '-e', path], opts);
    if (exists.code !== 0) return undefined;
    throw new GuestCommandError(r.command, r, `${path} exists but could not be read`);
  }

  /**
   * Polls until a command exits 0 (or a predicate returns true); throws GuestTimeoutError once
   * `timeoutMs` has passed. Errors from the predicate or the connection end the wait at once.
   */
  async waitUntil(
    check: GuestCommand | ((guest: Guest) => Promise<boolean>),
    opts: GuestExecOptions & { timeoutMs: number; intervalMs?: number },
  ): Promise<void> {
    const deadline = Date.now() + opts.timeoutMs;
    const interval = opts.intervalMs ?? 1000;
    const probe =
      typeof check === 'function'
        ? () => check(this)
        : async () => (await this.exec(check, { ...(opts.root ? { root: true } : {}), timeoutMs: Math.max(1000, deadline - Date.now()) })).code === 0;
    for (let attempt = 1; ; attempt++) {
      if (await probe()) return;
      const left = deadline - Date.now();
      if (left <= 0) {
        const what = typeof check === 'function' ? 'the condition' : commandLine(check);
        throw new GuestTimeoutError(`${what} did not hold within ${opts.timeoutMs} ms (${attempt} attempt(s))`);
      }
      await sleep(Math.min(interval, left));
    }
  }
}
