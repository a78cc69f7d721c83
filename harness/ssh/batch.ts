import { randomBytes } from 'node:crypto';
import { asRoot, shellQuote } from '../util/shell.ts';
import type { ExecResult } from './client.ts';
import type { GuestExecRequest, GuestTransport } from './guest.ts';

/**
 * A GuestTransport that sends the commands asked for at about the same time as one script over one
 * SSH exec: the probes run concurrently, so each round of their commands (every probe's first
 * command, then every second one…) costs one round trip and one sshd session — and one `sudo` for
 * all of the round's root commands — instead of one each. Under TCG a session plus a sudo costs a
 * few hundred ms of guest CPU; a cell's probes ran ~35 of them.
 *
 * Each command still gets exactly the result it would have got alone (its own stdout, stderr and
 * exit status, run by the same shell as the same user, stdin from /dev/null), so evidence reads as
 * before. When the bundle itself does not come back whole (sudo refused, no mktemp, output cut),
 * the round's commands are sent one by one, as without batching: a batch never changes a verdict.
 */

export interface BatchOptions {
  /** How long to wait for more commands after the first one of a round arrives. */
  windowMs?: number;
}

/** One command line of a round's exec, and where its result goes. */
interface Part {
  line: string;
  timeoutMs: number;
  deliver: (r: ExecResult | Error) => Promise<void>;
}

function newBoundary(): string {
  return `cloudprobe-${randomBytes(8).toString('hex')}`;
}

interface Queued {
  command: string;
  request: GuestExecRequest;
  resolve: (r: ExecResult) => void;
  reject: (err: unknown) => void;
}

export class BatchingTransport implements GuestTransport {
  private queue: Queued[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Round trips made and commands sent, for the log and the bench. */
  readonly stats = { roundTrips: 0, commands: 0, fallbacks: 0 };

  constructor(
    private readonly inner: GuestTransport,
    /** The login user: root commands of a round run together under one `sudo -n sh -c`. */
    private readonly user: string,
    private readonly opts: BatchOptions = {},
  ) {}

  exec(command: string, request: GuestExecRequest): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ command, request, resolve, reject });
      this.timer ??= setTimeout(() => void this.flush(), this.opts.windowMs ?? 15);
    });
  }

  private async flush(): Promise<void> {
    const round = this.queue;
    this.queue = [];
    this.timer = undefined;
    this.stats.commands += round.length;
    // Two or more root commands share one sudo: their own bundle, itself one command of the round's
    // bundle (its output is parsed in turn). A lone root command goes in as the Guest wrapped it.
    const rootQs = round.filter((q) => q.request.rootCommand !== undefined);
    const shareSudo = rootQs.length >= 2;
    const parts: Part[] = round.filter((q) => !shareSudo || q.request.rootCommand === undefined).map((q) => this.partOf(q));
    if (shareSudo) {
      const boundary = newBoundary();
      parts.push({
        line: asRoot(this.user, bundleScript(rootQs.map((q) => q.request.rootCommand!), boundary, 'sh')),
        timeoutMs: Math.max(...rootQs.map((q) => q.request.timeoutMs)),
        deliver: async (r) => {
          const results = r instanceof Error ? r : parseBundle(r, boundary, rootQs.length);
          if (results === undefined) this.stats.fallbacks++;
          await Promise.all(rootQs.map((q, k) => (results === undefined ? this.send([this.partOf(q)]) : this.deliver(q, results instanceof Error ? results : { ...results[k]!, command: q.command }))));
        },
      });
    }
    await this.send(parts);
  }

  /** One exec for all parts: alone when there is one, else as a bundle (one by one if it comes back broken). */
  private async send(parts: Part[]): Promise<void> {
    this.stats.roundTrips++;
    const bundled = parts.length > 1;
    const boundary = newBoundary();
    const line = bundled ? bundleScript(parts.map((p) => p.line), boundary, LOGIN_SHELL) : parts[0]!.line;
    let r: ExecResult;
    try {
      r = await this.inner.exec(line, { timeoutMs: Math.max(...parts.map((p) => p.timeoutMs)) });
    } catch (err) {
      // No result for the bundle is no result for any of its commands (SSH lost, a timeout).
      await Promise.all(parts.map((p) => p.deliver(err instanceof Error ? err : new Error(String(err)))));
      return;
    }
    if (!bundled) return parts[0]!.deliver(r);
    const results = parseBundle(r, boundary, parts.length);
    if (!results) {
      this.stats.fallbacks++;
      // Each part alone, as without batching (a nested root bundle is then parsed on its own).
      await Promise.all(parts.map((p) => this.send([p])));
      return;
    }
    await Promise.all(parts.map((p, k) => p.deliver({ ...results[k]!, command: p.line })));
  }

  private async deliver(q: Queued, r: ExecResult | Error): Promise<void> {
    if (r instanceof Error) q.reject(r);
    else q.resolve({ ...r, command: q.command });
  }

  /** A queued command as it goes alone: its own line, its result straight back. */
  private partOf(q: Queued): Part {
    return { line: q.command, timeoutMs: q.request.timeoutMs, deliver: (r) => this.deliver(q, r) };
  }
}

/**
 * The login shell by its base name, as sshd starts it (argv[0] "bash", so its messages read
 * "bash: line 1: …" exactly as they did for a command sent alone); sh when it is not on PATH.
 */
const LOGIN_SHELL = '"$s"';
const LOGIN_SHELL_SETUP = 's=${SHELL:-/bin/sh}; s=${s##*/}; command -v "$s" >/dev/null 2>&1 || s=sh';

/**
 * One POSIX sh script running each command with `<shell> -c` (as it would have run alone: same
 * shell, same error messages), its stdout and stderr captured to files, then printed between
 * boundary lines with its exit status. Works with BusyBox sh and dash.
 */
export function bundleScript(commands: readonly string[], boundary: string, shell = 'sh'): string {
  const lines = ['d=$(mktemp -d) || exit 97', ...(shell === LOGIN_SHELL ? [LOGIN_SHELL_SETUP] : [])];
  commands.forEach((command, k) => {
    lines.push(
      `${shell} -c ${shellQuote(command)} </dev/null >"$d/o" 2>"$d/e"; r=$?`,
      `printf '%s\\n' '${boundary} ${k} o'; cat "$d/o"`,
      `printf '\\n%s\\n' '${boundary} ${k} e'; cat "$d/e"`,
      `printf '\\n%s %s\\n' '${boundary} ${k} r' "$r"`,
    );
  });
  lines.push('rm -rf "$d"', `printf '%s\\n' '${boundary} end'`);
  return lines.join('\n');
}

/** Each command's result from the bundle's output; undefined unless every part is there. */
export function parseBundle(r: ExecResult, boundary: string, count: number): Omit<ExecResult, 'command'>[] | undefined {
  if (r.code !== 0) return undefined;
  const out = r.stdout;
  if (!out.endsWith(`${boundary} end\n`)) return undefined;
  const results: Omit<ExecResult, 'command'>[] = [];
  let at = 0;
  for (let k = 0; k < count; k++) {
    const o = `${boundary} ${k} o\n`;
    const e = `\n${boundary} ${k} e\n`;
    const rc = `\n${boundary} ${k} r `;
    if (!out.startsWith(o, at)) return undefined;
    const eAt = out.indexOf(e, at + o.length);
    const rAt = eAt < 0 ? -1 : out.indexOf(rc, eAt + e.length);
    if (eAt < 0 || rAt < 0) return undefined;
    const eol = out.indexOf('\n', rAt + rc.length);
    const code = Number(out.slice(rAt + rc.length, eol));
    if (eol < 0 || !Number.isInteger(code)) return undefined;
    results.push({ code, stdout: out.slice(at + o.length, eAt), stderr: out.slice(eAt + e.length, rAt) });
    at = eol + 1;
  }
  return out.startsWith(`${boundary} end\n`, at) ? results : undefined;
}
