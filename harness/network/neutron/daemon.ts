import { execa, type ResultPromise } from 'execa';
import type { CleanupStack } from '../../util/cleanup-stack.ts';

/** Runs a command inside a network namespace. */
export function inNamespace(namespace: string, argv: readonly string[]) {
  return execa('ip', ['netns', 'exec', namespace, ...argv], { reject: false });
}

/** Runs a command inside a namespace and fails with its output when it fails. */
export async function mustInNamespace(namespace: string, argv: readonly string[]): Promise<string> {
  const r = await inNamespace(namespace, argv);
  if (r.exitCode !== 0) throw new Error(`in ${namespace}: ${argv.join(' ')} failed (exit ${r.exitCode}): ${`${r.stderr}`.trim()}`);
  return `${r.stdout}`;
}

/** Whether something in the namespace listens on `port` (tcp or udp), as `ss` sees it. */
async function listening(namespace: string, proto: 'tcp' | 'udp', port: number, address?: string): Promise<boolean> {
  const r = await inNamespace(namespace, ['ss', '-Hln', proto === 'tcp' ? '-t' : '-u']);
  return `${r.stdout}`.split('\n').some((l) => {
    const local = l.trim().split(/\s+/)[3] ?? '';
    return local.endsWith(`:${port}`) && (address === undefined || local.startsWith(`${address}:`) || local.startsWith('0.0.0.0:') || local.startsWith('*:'));
  });
}

export interface Daemon {
  pid: number;
  /** What it printed, for the artifacts and error messages. */
  output(): string;
}

/**
 * Starts a daemon in the foreground inside a namespace (dnsmasq -k, haproxy -db), waits until it
 * really listens, and registers its stop on the cleanup stack. A daemon that exits before it
 * listens is an error with its output.
 */
export async function startDaemon(opts: {
  name: string;
  namespace: string;
  argv: readonly string[];
  listen: { proto: 'tcp' | 'udp'; port: number; address?: string };
  cleanup: CleanupStack;
  timeoutMs?: number;
}): Promise<Daemon> {
  const child: ResultPromise = execa('ip', ['netns', 'exec', opts.namespace, ...opts.argv], { reject: false, all: true, buffer: false });
  let out = '';
  child.all?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-16_384)));
  let exited = false;
  void child.then(() => (exited = true));
  opts.cleanup.defer(`stop ${opts.name}`, async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await child;
    clearTimeout(t);
  });
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  while (!(await listening(opts.namespace, opts.listen.proto, opts.listen.port, opts.listen.address))) {
    if (exited) throw new Error(`${opts.name} exited before it listened on ${opts.listen.port}: ${out.trim()}`);
    if (Date.now() > deadline) throw new Error(`${opts.name} did not listen on ${opts.listen.proto} ${opts.listen.port} within ${opts.timeoutMs ?? 15_000} ms: ${out.trim()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid: child.pid!, output: () => out };
}
