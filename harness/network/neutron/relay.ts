import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import { isIPv4 } from '../../util/ipv4-net.ts';
import { netnsExecPrefix } from './ip.ts';

/**
 * The host's way to a guest on a neutron network without any host route: socat runs inside a
 * namespace that has an address on the guest's subnet (qdhcp, qrouter or a probe) and connects
 * there; its stdin/stdout become a Duplex on the host — what ssh2's `connect({ sock })` takes.
 * Like `ip netns exec qdhcp-… ssh …` on a network node, with only a pipe crossing.
 */

export interface NetnsStream extends Duplex {
  /** The relay's pid (socat, inside the namespace). */
  relayPid: number;
}

export interface OpenStreamOptions {
  /** socat's connect timeout (seconds). */
  connectTimeoutS?: number;
}

/** Resolves once socat is connected (its "starting data transfer loop"), rejects with socat's error otherwise. */
export function openNetnsStream(namespace: string, host: string, port: number, opts: OpenStreamOptions = {}): Promise<NetnsStream> {
  if (!isIPv4(host)) return Promise.reject(new Error(`host: "${host}" is not an IPv4 address`));
  if (!Number.isInteger(port) || port < 1 || port > 65535) return Promise.reject(new Error(`port: ${port} is not a TCP port`));
  const timeout = opts.connectTimeoutS ?? 10;
  const [ipCmd, ...prefix] = netnsExecPrefix(namespace);
  // -d -d: socat reports when the connection is up; setpriv ties it to the harness.
  const child = spawn(ipCmd!, [...prefix, 'setpriv', '--pdeathsig', 'KILL', '--', 'socat', '-d', '-d', 'STDIO', `TCP:${host}:${port},connect-timeout=${timeout}`], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let stderr = '';
    let settled = false;
    const onData = (chunk: Buffer) => {
      if (stderr.length < 16_384) stderr += chunk.toString('utf8');
      if (!settled && stderr.includes('starting data transfer loop')) {
        settled = true;
        const stream = Duplex.from({ readable: child.stdout, writable: child.stdin }) as NetnsStream;
        stream.relayPid = child.pid!;
        const kill = () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        };
        // socat's stdout ends when it exits, which ends the stream; closing the stream ends socat.
        stream.once('close', kill);
        resolve(stream);
      }
    };
    child.stderr.on('data', onData);
    child.once('error', (err) => {
      if (settled) return;
      settled = true;
      reject(new Error(`relay to ${host}:${port} in ${namespace}: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      if (settled) return;
      settled = true;
      const said = stderr.split('\n').filter((l) => / E /.test(l)).pop()?.replace(/^.*? E /, '') ?? stderr.trim().split('\n').pop() ?? '';
      reject(new Error(`relay to ${host}:${port} in ${namespace}: socat ${signal ?? `exit ${code}`}: ${said}`));
    });
  });
}
