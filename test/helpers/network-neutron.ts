import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseResponse, type RawResponse } from './raw-http.ts';

/**
 * Client-side tools for the neutron tests: the DHCP client and HTTP requests a guest would make,
 * run inside the namespace that stands in for the VM.
 */

/**
 * udhcpc's event script, doing what a guest's DHCP client does with a lease: the address, then
 * option 121's routes when the server sent them (RFC 3442: option 3 is then ignored), else the
 * router. It prints the lease, so the test sees what the server offered.
 */
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew)
    echo "lease ip=$ip mask=$mask router=$router mtu=$mtu dns=$dns hostname=$hostname staticroutes=$staticroutes"
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do ip route add "$1" via "$2" dev "$interface"; shift 2; done
    elif [ -n "$router" ]; then
      for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    fi
    ;;
esac
`;

export async function writeUdhcpcScript(dir: string): Promise<string> {
  const file = join(dir, 'udhcpc.sh');
  await writeFile(file, UDHCPC_SCRIPT, { mode: 0o755 });
  return file;
}

export interface Lease {
  ip: string;
  mask: string;
  router: string;
  mtu: string;
  dns: string;
  hostname: string;
  staticroutes: string;
}

/** busybox udhcpc, once, in the foreground: the lease it got (asking for routes and MTU, as guests do). */
export async function dhcpLease(namespace: string, script: string, iface = 'eth0'): Promise<Lease> {
  const r = await execa('ip', ['netns', 'exec', namespace, 'busybox', 'udhcpc', '-i', iface, '-n', '-q', '-f', '-t', '5', '-T', '2', '-O', 'staticroutes', '-O', 'mtu', '-s', script], { reject: false, all: true });
  const line = r.stdout.split('\n').find((l) => l.startsWith('lease '));
  if (r.exitCode !== 0 || !line) throw new Error(`udhcpc in ${namespace} got no lease (exit ${r.exitCode}): ${r.all}`);
  const fields: Record<string, string> = {};
  for (const m of line.slice('lease '.length).matchAll(/(\w+)=(.*?)(?= \w+=|$)/g)) fields[m[1]!] = m[2]!;
  return fields as unknown as Lease;
}

export async function routes(namespace: string): Promise<string[]> {
  const out = (await execa('ip', ['-n', namespace, '-4', 'route', 'show'])).stdout;
  return out
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter(Boolean);
}

export interface NsRequest {
  host?: string;
  port?: number;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** Source address (socat `bind=`). */
  bind?: string;
}

/** One HTTP/1.0 request from inside `namespace` (socat), the raw response parsed. */
export async function nsHttp(namespace: string, req: NsRequest): Promise<RawResponse> {
  const host = req.host ?? '169.254.169.254';
  const head = [`${req.method ?? 'GET'} ${req.path} HTTP/1.0`, `Host: ${host}`, ...Object.entries(req.headers ?? {}).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
  const target = `TCP:${host}:${req.port ?? 80},connect-timeout=5${req.bind ? `,bind=${req.bind}` : ''}`;
  const r = await execa('ip', ['netns', 'exec', namespace, 'socat', '-t', '10', '-', target], { input: head, encoding: 'buffer', reject: false, timeout: 30_000 });
  if (r.exitCode !== 0) throw new Error(`socat in ${namespace} to ${host}: ${Buffer.from(r.stderr).toString().trim()}`);
  return parseResponse(Buffer.from(r.stdout));
}

/** busybox wget from inside `namespace`: the body, or the error wget printed. */
export async function nsWget(namespace: string, url: string): Promise<{ ok: boolean; body: string; error: string }> {
  // Not -q: it hides the errors too. Not -T: busybox 1.35's wget crashes on it; execa's timeout instead.
  const r = await execa('ip', ['netns', 'exec', namespace, 'busybox', 'wget', '-O-', url], { reject: false, timeout: 30_000 });
  const error = r.exitCode === 0 ? '' : (r.stderr.trim().split('\n').pop() ?? `exit ${r.exitCode}`);
  return { ok: r.exitCode === 0, body: r.stdout, error };
}
