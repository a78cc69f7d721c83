import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveInstance } from '../../harness/model/instance.ts';
import { startMetadataService, type MetadataService } from '../../harness/metadata/service.ts';
import { signInstanceId } from '../../harness/metadata/signing.ts';
import { startMetadataAgent, type MetadataAgent } from '../../harness/network/neutron/agent.ts';
import { neutronAvailability } from '../../harness/network/neutron/availability.ts';
import { portHostname, type NeutronNetwork, type Port } from '../../harness/network/neutron/model.ts';
import { listNamespaces, namespaceNames, removeNamespace, sweepStaleNamespaces } from '../../harness/network/neutron/names.ts';
import { BRIDGE, buildNetwork, type BuiltNetwork } from '../../harness/network/neutron/topology.ts';
import { processAlive } from '../../harness/util/process-alive.ts';
import { CleanupStack } from '../../harness/util/cleanup-stack.ts';

// Real namespaces, bridge, veth, dnsmasq, haproxy, iptables, the agent and the nova-like service;
// a namespace with a veth on the bridge plays the VM and runs a real DHCP client (busybox udhcpc).
// Nothing here talks to an address outside loopback or the namespaces this test creates.
const available = await neutronAvailability();
const UDHCPC_SCRIPT = resolve('test/helpers/udhcpc-script.sh');
const MAC = '52:54:00:0b:0b:01';

let work: string;
let service: MetadataService;
let agent: MetadataAgent;
let built: BuiltNetwork;
let vm: string;
const cleanup = new CleanupStack('neutron test');
const uuid = '6f0c3a9e-1b7d-4c2e-9a55-0d3c2b1a0f11';

const network: NeutronNetwork = {
  id: 'net-seed',
  routerId: 'router-seed',
  routerAttached: true,
  metadata: 'both',
  dhcpIp: '172.16.11.2',
  subnet: { cidr: '172.16.11.0/24', gatewayIp: '172.16.11.1', enableDhcp: true, dnsNameservers: [], hostRoutes: [] },
};
const port: Port = { id: 'port-1', mac: MAC, ip: '172.16.11.26', hostname: portHostname('172.16.11.26'), instanceId: uuid, tenantId: 'cloudprobe' };

const inVm = (argv: string[]) => execa('ip', ['netns', 'exec', vm, ...argv], { reject: false, timeout: 30_000 });
// busybox wget's own -T crashes (SIGSEGV) in Debian's busybox-static: bound it with timeout(1).
const wget = (url: string) => inVm(['timeout', '10', 'busybox', 'wget', '-q', '-O', '-', url]);
const get = (path: string) => wget(`http://169.254.169.254${path}`);

describe.skipIf(!available.available)('neutron metadata paths from real parts (no VM)', () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cloudprobe-neutron-'));
    cleanup.defer('remove the work dir', () => rm(work, { recursive: true, force: true }));
    service = await startMetadataService();
    cleanup.defer('close the metadata service', () => service.close());
    const instance = await resolveInstance({ uuid, name: 'seed', project_id: 'cloudprobe', availability_zone: 'nova', launch_index: 0, meta: {}, public_keys: {}, vendor_data: {}, vendor_data2: {}, files: [], nics: [{ mac: MAC, mode: 'dhcp', dns: [] }] }, work);
    await service.addInstance(instance, { guestIp: port.ip });
    const url = new URL(service.serviceUrl);
    agent = await startMetadataAgent({ socket: join(work, 'agent.sock'), topology: { networks: [network], ports: [{ networkId: network.id, port }] }, service: { host: url.hostname, port: Number(url.port), secret: service.secret }, sign: signInstanceId, cleanup });
    built = await buildNetwork(network, [port], { workDir: work, agentSocket: agent.socket, cleanup });
    // The stand-in VM: its own namespace, a NIC with the port's MAC whose peer sits on the bridge.
    vm = namespaceNames().vm;
    await execa('ip', ['netns', 'add', vm]);
    cleanup.defer('remove the stand-in VM', () => removeNamespace(vm));
    await execa('ip', ['-n', built.segment, 'link', 'add', 'vm-p', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', vm]);
    await execa('ip', ['-n', built.segment, 'link', 'set', 'vm-p', 'master', BRIDGE, 'up']);
    await execa('ip', ['-n', vm, 'link', 'set', 'eth0', 'address', MAC]);
    await execa('ip', ['-n', vm, 'link', 'set', 'eth0', 'up']);
    await execa('ip', ['-n', vm, 'link', 'set', 'lo', 'up']);
  }, 60_000);
  afterAll(async () => {
    await cleanup.unwind();
  });

  it('the DHCP client gets its reserved address and, by option 121, 169.254.169.254 via the DHCP port', async () => {
    const r = await inVm(['busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-O', 'staticroutes', '-s', UDHCPC_SCRIPT]);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect((await inVm(['ip', '-4', '-o', 'addr', 'show', 'eth0'])).stdout).toContain('172.16.11.26/24');
    const routes = (await inVm(['ip', 'route'])).stdout;
    expect(routes).toMatch(/^169\.254\.169\.254 via 172\.16\.11\.2 dev eth0/m);
    expect(routes).toMatch(/^default via 172\.16\.11\.1 dev eth0/m);
  });

  it('dhcp-agent path: the route wins; the agent finds the instance from network + source IP; nova answers for it', async () => {
    const versions = await get('/openstack');
    expect(versions.exitCode, versions.stderr).toBe(0);
    expect(versions.stdout.split('\n')).toContain('2018-08-27');
    const meta = await get('/openstack/latest/meta_data.json');
    expect(JSON.parse(meta.stdout).uuid).toBe(uuid);
    const last = agent.requests().at(-1);
    expect(last).toMatchObject({ path: '/openstack/latest/meta_data.json', via: 'dhcp', source: '172.16.11.26', instanceId: uuid, status: 200 });
  });

  it('l3-agent path: with only the default route, the router namespace REDIRECTs to haproxy on 9697', async () => {
    await inVm(['ip', 'route', 'del', '169.254.169.254']);
    const meta = await get('/openstack/latest/meta_data.json');
    expect(meta.exitCode, meta.stderr).toBe(0);
    expect(JSON.parse(meta.stdout).uuid).toBe(uuid);
    expect(agent.requests().at(-1)).toMatchObject({ via: 'router', source: '172.16.11.26', instanceId: uuid, status: 200 });
  });

  it('a request from an address that is no port gets 404 from the agent, with the reason logged', async () => {
    await inVm(['ip', 'addr', 'flush', 'dev', 'eth0']);
    await inVm(['ip', 'addr', 'add', '172.16.11.99/24', 'dev', 'eth0']);
    await inVm(['ip', 'route', 'add', 'default', 'via', '172.16.11.1']);
    const r = await get('/openstack');
    expect(r.exitCode).not.toBe(0);
    expect(agent.requests().at(-1)).toMatchObject({ status: 404, source: '172.16.11.99', reason: expect.stringContaining('no port with address 172.16.11.99') });
  });

  it('from inside the namespaces the host is unreachable: its loopback services and its own addresses', async () => {
    const server: Server = createServer((_q, s) => s.end('host'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const p = (server.address() as AddressInfo).port;
      const r = await wget(`http://127.0.0.1:${p}/`);
      expect(r.exitCode).not.toBe(0);
      expect(r.stdout).not.toContain('host');
      for (const ns of [built.segment, built.dhcp!.namespace, built.router!.namespace, vm]) {
        const links = (await execa('ip', ['-n', ns, '-o', 'link'])).stdout;
        // Only what this backend made: loopback, the bridge and its veths/taps. No uplink to the host.
        expect(links).not.toMatch(/: (eth[1-9]|ens|enp|wl|docker|virbr)/);
        expect((await execa('ip', ['-n', ns, 'route', 'get', '1.1.1.1'], { reject: false })).stdout).not.toMatch(/via (?!172\.16\.11\.1\b)/);
      }
    } finally {
      server.close();
    }
  });

  it('teardown leaves no namespace, dnsmasq, haproxy or socket behind', async () => {
    const pids = [built.dhcp!.dnsmasq.pid, built.dhcp!.proxy!.pid, built.router!.proxy!.pid];
    const spaces = [built.segment, built.dhcp!.namespace, built.router!.namespace, vm];
    const failures = await cleanup.unwind();
    expect(failures).toEqual([]);
    const left = await listNamespaces();
    for (const ns of spaces) expect(left).not.toContain(ns);
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
    expect(existsSync(agent.socket)).toBe(false);
  });

  it('the next run sweeps the namespaces of a run that died without teardown', async () => {
    const dead = execa('true');
    await dead;
    const stale = `cpn-${dead.pid}-1-seg`;
    await execa('ip', ['netns', 'add', stale]);
    try {
      expect(await sweepStaleNamespaces()).toContain(stale);
      expect(await listNamespaces()).not.toContain(stale);
    } finally {
      await execa('ip', ['netns', 'delete', stale], { reject: false });
    }
  });
});

it.runIf(!available.available)('neutron backend unavailable here', () => {
  // Say why, so a skipped tier is never silent.
  expect(available.reasons.length).toBeGreaterThan(0);
});
