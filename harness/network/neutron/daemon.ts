import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { listeningSockets, netnsExecPrefix } from './ip.ts';

/**
 * A long-running program (dnsmasq, haproxy) inside a namespace, kept in the foreground under the
 * harness: started through `ip netns exec <ns> setpriv --pdeathsig KILL --`, so the kernel kills
 * it if the harness dies, even by SIGKILL (each `exec` keeps the same pid, so the pid we hold is
 * the daemon's). Its stdout and stderr go to a file in the cell's work dir.
 */

export interface ListenCheck {
  proto: 'tcp' | 'udp';
  port: number;
  /** When given, the socket must be bound to this address (else any). */
  address?: string;
}

export interface StartDaemonOptions {
  /** For messages: `dnsmasq for private`. */
  name: string;
  namespace: string;
  argv: string[];
  outputFile: string;
  /** Up means: this socket is listening and owned by the daemon's pid. */
  listen: ListenCheck;
  /** Safety net for a daemon that neither listens nor exits. */
  timeoutMs?: number;
}

export interface NetnsDaemon {
  name: string;
  namespace: string;
  pid: number;
  /** True while the process runs. */
  running(): boolean;
  /** SIGTERM, then SIGKILL if it has not exited after a grace period; resolves once it is gone. */
  stop(): Promise<void>;
}

const POLL_MS = 25;
const STOP_GRACE_MS = 5_000;

async function tail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-3).join(' | ') || '(no output)';
}

export async function startNetnsDaemon(opts: StartDaemonOptions): Promise<NetnsDaemon> {
  const [ipCmd, ...prefix] = netnsExecPrefix(opts.namespace);
  // Both streams appended to one file (O_APPEND: their writes do not overwrite each other).
  const out = { file: opts.outputFile, append: true } as const;
  const child = execa(ipCmd!, [...prefix, 'setpriv', '--pdeathsig', 'KILL', '--', ...opts.argv], { stdin: 'ignore', stdout: out, stderr: out, reject: false, cleanup: true });
  const pid = child.pid;
  let exited = false;
  const done = child.then(() => {
    exited = true;
  });
  if (pid === undefined) {
    await done;
    throw new Error(`${opts.name}: could not start ${opts.argv[0]}`);
  }

  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const grace = sleep(STOP_GRACE_MS, 'late' as const, { ref: false });
    if ((await Promise.race([done.then(() => 'gone' as const), grace])) === 'late') child.kill('SIGKILL');
    await done;
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  const { proto, port, address } = opts.listen;
  for (;;) {
    if (exited) throw new Error(`${opts.name}: ${opts.argv[0]} exited before listening on ${proto} ${address ?? '*'}:${port}: ${await tail(opts.outputFile)}`);
    const sockets = await listeningSockets(opts.namespace, proto).catch(() => []);
    if (sockets.some((s) => s.port === port && s.pids.includes(pid) && (address === undefined || s.address === address))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${opts.name}: ${opts.argv[0]} did not listen on ${proto} ${address ?? '*'}:${port} within ${opts.timeoutMs ?? 15_000} ms: ${await tail(opts.outputFile)}`);
    }
    await sleep(POLL_MS);
  }

  return { name: opts.name, namespace: opts.namespace, pid, running: () => !exited, stop };
}
