import { execa } from 'execa';

/**
 * Thin wrappers over iproute2 and friends. Every command's failure is one line naming the
 * command and what the tool said (`ip -n … link add …: RTNETLINK answers: File exists`).
 */

export class CommandError extends Error {
  override name = 'CommandError';
}

async function run(file: string, args: string[]): Promise<string> {
  const r = await execa(file, args, { reject: false, stdin: 'ignore', timeout: 30_000 });
  if (r.exitCode !== 0 || r.failed) {
    const said = (r.stderr || r.stdout || r.shortMessage || '').trim().split('\n').filter(Boolean).pop() ?? `exit ${r.exitCode}`;
    throw new CommandError(`${file} ${args.join(' ')}: ${said}`);
  }
  return r.stdout;
}

export function ip(args: string[]): Promise<string> {
  return run('ip', args);
}

/** Runs a command inside a namespace (`ip netns exec`). */
export function nsExec(namespace: string, argv: string[]): Promise<string> {
  return run('ip', ['netns', 'exec', namespace, ...argv]);
}

/** The argv prefix that runs a program inside `namespace`: `ip netns exec <namespace>` (QEMU, relays, daemons). */
export function netnsExecPrefix(namespace: string): string[] {
  return ['ip', 'netns', 'exec', namespace];
}

export async function listNamespaces(): Promise<string[]> {
  const out = await ip(['netns', 'list']);
  // "name (id: 3)" or just "name".
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/** Pids of the processes whose network namespace is `namespace`. */
export async function namespacePids(namespace: string): Promise<number[]> {
  const out = await ip(['netns', 'pids', namespace]);
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isSafeInteger(n) && n > 0);
}

export interface ListeningSocket {
  address: string;
  port: number;
  pids: number[];
}

/** Listening sockets inside a namespace (`ss -Hlnp`): the evidence a daemon is really up. */
export async function listeningSockets(namespace: string, proto: 'tcp' | 'udp'): Promise<ListeningSocket[]> {
  const out = await nsExec(namespace, ['ss', '-Hlnp', proto === 'tcp' ? '-t' : '-u']);
  const sockets: ListeningSocket[] = [];
  for (const line of out.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const local = cols[3];
    if (!local) continue;
    const colon = local.lastIndexOf(':');
    const port = Number(local.slice(colon + 1));
    // `0.0.0.0%ns-x`, `[fe80::1]%eth0`, `169.254.169.254`
    const address = local.slice(0, colon).replace(/%.*$/, '').replace(/^\[|\]$/g, '');
    const pids = [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    if (Number.isInteger(port)) sockets.push({ address, port, pids });
  }
  return sockets;
}
