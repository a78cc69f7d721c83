import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../harness/ssh/keys.ts';
import { listeningSockets } from '../../harness/network/neutron/ip.ts';
import { processRunning } from '../../harness/network/neutron/sweep.ts';
import { buildTopology, type Topology } from '../../harness/network/neutron/topology.ts';

/**
 * SSH to a guest without any host route: a DHCP-disabled network without router (the
 * "static address from the config drive" case) gets neutron-debug's probe namespace; the relay
 * (socat inside it) carries ssh2 to a real dropbear running in the namespace that plays the VM.
 * The metadata service is never asked here, so the agent points at a closed loopback port.
 */

const USER = 'probe';
const key = generateKeyPair('neutron-relay-test');
const VM = '0d0d0d0d-0000-4000-8000-00000000000d';
let work: string;
let topo: Topology;
let dropbear: ChildProcess | undefined;

/** dropbear on :22 in `namespace`, with a user `probe` added in a private mount namespace (host files untouched). */
async function startDropbear(namespace: string, dir: string): Promise<ChildProcess> {
  // The user's session must traverse to its home: the temp dirs above it open to others.
  await mkdir(dir, { recursive: true });
  await chmod(work, 0o755);
  await chmod(dir, 0o755);
  const home = join(dir, 'home');
  await mkdir(join(home, '.ssh'), { recursive: true });
  await writeFile(join(home, '.ssh', 'authorized_keys'), `${key.publicKey}\n`, { mode: 0o600 });
  await chmod(join(home, '.ssh'), 0o700);
  await execa('chown', ['-R', '4242:4242', home]);
  await writeFile(join(dir, 'passwd'), `${await readFile('/etc/passwd', 'utf8')}${USER}:x:4242:4242:probe:${home}:/bin/sh\n`);
  const hostKey = join(dir, 'hostkey');
  await execa('dropbearkey', ['-t', 'ed25519', '-f', hostKey]);
  const script = `mount --bind ${join(dir, 'passwd')} /etc/passwd && exec setpriv --pdeathsig KILL dropbear -F -E -s -p 0.0.0.0:22 -r ${hostKey}`;
  const proc = spawn('ip', ['netns', 'exec', namespace, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script], { stdio: 'ignore' });
  // Listening, not a sleep: its socket in the namespace.
  for (let i = 0; i < 200; i++) {
    if ((await listeningSockets(namespace, 'tcp')).some((s) => s.port === 22)) return proc;
    if (proc.exitCode !== null) break;
    await sleep(25);
  }
  proc.kill('SIGKILL');
  throw new Error('dropbear did not come up in the stand-in VM namespace');
}

function sshExec(sock: NodeJS.ReadWriteStream, command: string): Promise<{ banner: string; stdout: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let banner = '';
    client.on('ready', () => {
      client.exec(command, (err, ch) => {
        if (err) return reject(err);
        let stdout = '';
        ch.on('data', (d: Buffer) => (stdout += d.toString()));
        ch.on('close', (code: number | null) => {
          client.end();
          resolve({ banner, stdout, code });
        });
      });
    });
    client.on('error', reject);
    client.connect({ sock: sock as never, username: USER, privateKey: key.privateKey, hostVerifier: () => true, readyTimeout: 20_000, debug: (m: string) => {
      const ident = /Remote ident: '([^']+)'/.exec(m);
      if (ident) banner = ident[1]!;
    } });
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cloudprobe-neutron-relay-'));
  topo = await buildTopology({
    cell: 'relay',
    workDir: join(work, 'cell'),
    nova: { host: '127.0.0.1', port: 9, secret: 'unused' },
    sweep: false,
    spec: {
      networks: [{ name: 'static', metadata: 'none', subnet: { cidr: '10.50.0.0/24', enable_dhcp: false } }],
      ports: [{ network: 'static', mac: 'fa:16:3e:00:00:0d', fixed_ip: '10.50.0.10', device_id: VM, tenant_id: 'p', nic: 'veth' }],
    },
  });
});

afterAll(async () => {
  dropbear?.kill('SIGKILL');
  await topo?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('reaching a guest through a relay inside a namespace', () => {
  it('a DHCP-disabled network has no dnsmasq and no qdhcp, but a probe namespace', () => {
    const net = topo.plan.networks[0]!;
    expect(topo.dnsmasq('static')).toBeUndefined();
    expect(topo.processes()).toEqual([]);
    expect(topo.namespaces().some((n) => n.includes('-qdhcp-'))).toBe(false);
    // gateway_ip defaults to .1 and stays reserved without a router, as in neutron.
    expect(net.probePort?.ip).toBe('10.50.0.2');
    expect(topo.relayNamespace(net.id)).toBe(topo.names.probeNamespace(net.probePort!.id));
  });

  it('ssh2 over the relay logs into a real SSH server on the guest address', async () => {
    const portId = topo.plan.networks[0]!.ports[0]!.id;
    const vm = topo.vmNamespace(portId);
    // What the guest does with network_data.json's static address (no DHCP here).
    await execa('ip', ['-n', vm, 'addr', 'add', '10.50.0.10/24', 'dev', 'eth0']);
    dropbear = await startDropbear(vm, join(work, 'dropbear'));
    const stream = await topo.connect(portId);
    const r = await sshExec(stream, 'id -un; ip -4 -o addr show dev eth0');
    expect(r.banner).toMatch(/^SSH-2\.0-dropbear/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${USER}\\n.*inet 10\\.50\\.0\\.10/24`, 's'));
    // Closing the stream ends its relay.
    const pid = stream.relayPid;
    stream.destroy();
    for (let i = 0; i < 200 && (await processRunning(pid)); i++) await sleep(25);
    expect(await processRunning(pid)).toBe(false);
  });

  it("a closed port rejects with socat's reason", async () => {
    const net = topo.plan.networks[0]!;
    await expect(topo.openStream(net.id, '10.50.0.10', 2222)).rejects.toThrow(/relay to 10\.50\.0\.10:2222 in .*qprobe.*: socat exit 1: .*Connection refused/);
    await expect(topo.openStream(net.id, '10.50.0.10; rm -rf /', 22)).rejects.toThrow(/^host: .* is not an IPv4 address$/);
  });
});
