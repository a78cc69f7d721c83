import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Instance } from '../../harness/model/instance.ts';
import { startMetadataService, type MetadataService } from '../../harness/metadata/service.ts';
import { listNamespaces } from '../../harness/network/neutron/ip.ts';
import { runPrefix } from '../../harness/network/neutron/names.ts';
import { processRunning } from '../../harness/network/neutron/sweep.ts';
import { buildTopology, type Topology } from '../../harness/network/neutron/topology.ts';
import { minimalInstance } from '../helpers/instances.ts';
import { dhcpLease, nsHttp, nsWget, routes, writeUdhcpcScript } from '../helpers/network-neutron.ts';

/**
 * Neutron's two metadata paths from real parts, no VM: namespaces, a bridge, veths, dnsmasq,
 * haproxy, iptables, the metadata agent and the nova-like service. A namespace with a veth on
 * the bridge plays the VM: busybox udhcpc gets its lease from dnsmasq, then HTTP to
 * 169.254.169.254 goes by the DHCP namespace or by the router, as its routes say.
 *
 * Two cells with the same addresses side by side: `both` (router attached, both agents serve)
 * and `l3` (router attached, l3-agent only). `sweep: false`: another test file's dead-owner
 * topology is its own to sweep.
 */

const SECRET = 'neutron-test-secret';
let svc: MetadataService;
let work: string;
let udhcpc: string;
let both: Topology;
let l3: Topology;
let vmA: Instance;
let vmB: Instance;
let vmC: Instance;
let vmD: Instance;
let hostLinksBefore: string[];

const hostLinks = async () =>
  (await execa('ip', ['-o', 'link', 'show'])).stdout
    .split('\n')
    .map((l) => l.split(': ')[1]?.split('@')[0] ?? '')
    .sort();

const port = (t: Topology, instance: Instance) => t.plan.networks[0]!.ports.find((p) => p.deviceId === instance.uuid)!;
const vmNs = (t: Topology, instance: Instance) => t.vmNamespace(port(t, instance).id);

async function commandLinesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ');
    if (cmdline.includes(text)) found.push(`${pid}: ${cmdline}`);
  }
  return found;
}

async function metadataRoute(ns: string, via: string | undefined): Promise<void> {
  await execa('ip', ['-n', ns, 'route', 'del', '169.254.169.254/32'], { reject: false });
  if (via) await execa('ip', ['-n', ns, 'route', 'add', '169.254.169.254/32', 'via', via, 'dev', 'eth0']);
}

beforeAll(async () => {
  hostLinksBefore = await hostLinks();
  work = await mkdtemp(join(tmpdir(), 'cloudprobe-neutron-'));
  udhcpc = await writeUdhcpcScript(work);
  svc = await startMetadataService({ secret: SECRET });
  vmA = await minimalInstance('vm-a', '0a0a0a0a-0000-4000-8000-00000000000a');
  vmB = await minimalInstance('vm-b', '0b0b0b0b-0000-4000-8000-00000000000b');
  vmC = await minimalInstance('vm-c', '0c0c0c0c-0000-4000-8000-00000000000c');
  vmD = await minimalInstance('vm-d', '0d0d0d0d-0000-4000-8000-00000000000d');
  const nova = { host: '127.0.0.1', port: svc.port, secret: svc.secret };
  const subnet = { cidr: '172.16.11.0/24', host_routes: [{ destination: '10.20.0.0/16', nexthop: '172.16.11.254' }] };
  both = await buildTopology({
    cell: 'both',
    workDir: join(work, 'both'),
    nova,
    sweep: false,
    spec: {
      networks: [{ name: 'private', router: 'r1', metadata: 'both', mtu: 1400, subnet }],
      ports: [
        { network: 'private', mac: 'fa:16:3e:00:00:0a', fixed_ip: '172.16.11.26', device_id: vmA.uuid, tenant_id: vmA.project_id, nic: 'veth' },
        { network: 'private', mac: 'fa:16:3e:00:00:0b', device_id: vmB.uuid, tenant_id: vmB.project_id, nic: 'veth' },
        // A QEMU NIC: only its tap, waiting for QEMU.
        { network: 'private', mac: 'fa:16:3e:00:00:0d', device_id: vmD.uuid, tenant_id: vmD.project_id },
      ],
    },
  });
  l3 = await buildTopology({
    cell: 'l3',
    workDir: join(work, 'l3'),
    nova,
    sweep: false,
    spec: {
      networks: [{ name: 'private', router: 'r1', metadata: 'l3-agent', subnet: { cidr: '172.16.11.0/24' } }],
      ports: [{ network: 'private', mac: 'fa:16:3e:00:00:0c', fixed_ip: '172.16.11.26', device_id: vmC.uuid, tenant_id: vmC.project_id, nic: 'veth' }],
    },
  });
  for (const [t, vm] of [[both, vmA], [both, vmB], [l3, vmC]] as const) await svc.addInstance(vm, { guestIp: port(t, vm).ip });
});

afterAll(async () => {
  // Also on failure: nothing may stay behind.
  await both?.close();
  await l3?.close();
  await svc?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('neutron topology from real parts', () => {
  it('builds the namespaces neutron would, with no link to the host', async () => {
    const p = runPrefix();
    expect(both.namespaces()).toEqual([`${p}-both-seg`, both.names.dhcpNamespace(both.plan.networks[0]!.id), both.names.routerNamespace(both.plan.routers[0]!.id), vmNs(both, vmA), vmNs(both, vmB)]);
    // The l3 cell: DHCP on, so a qdhcp namespace with dnsmasq, but no proxy there.
    expect(l3.haproxys().map((h) => h.namespace)).toEqual([l3.names.routerNamespace(l3.plan.routers[0]!.id)]);
    expect(both.haproxys()).toHaveLength(2);
    const listed = await listNamespaces();
    for (const ns of [...both.namespaces(), ...l3.namespaces()]) expect(listed).toContain(ns);
    expect(await hostLinks()).toEqual(hostLinksBefore);
  });

  it("gives a QEMU NIC a tap on the network's bridge, in the namespace QEMU will run in", async () => {
    const d = port(both, vmD);
    expect(d.nic).toBe('tap');
    const args = both.qemuNetdevArgs(d.id, 0);
    const tap = /ifname=([^,]+)/.exec(args[1]!)![1]!;
    const onBridge = (await execa('ip', ['-n', both.segmentNamespace, '-o', 'link', 'show', 'master', `brq${both.plan.networks[0]!.id.slice(0, 11)}`])).stdout;
    expect(onBridge).toContain(`${tap}: `);
    expect((await execa('ip', ['-n', both.segmentNamespace, '-d', 'link', 'show', tap])).stdout).toMatch(/\btun type tap\b/);
    expect(both.qemuPrefix()).toEqual(['ip', 'netns', 'exec', both.segmentNamespace]);
    expect(() => both.qemuNetdevArgs(port(both, vmA).id, 0)).toThrow(/not a tap/);
  });

  it('dnsmasq leases the reserved address with MTU, host route and 169.254.169.254 via the DHCP port', async () => {
    const dhcpIp = both.plan.networks[0]!.dhcpPort!.ip;
    expect(dhcpIp).toBe('172.16.11.2');
    const lease = await dhcpLease(vmNs(both, vmA), udhcpc);
    expect(lease).toMatchObject({ ip: '172.16.11.26', mask: '24', router: '172.16.11.1', mtu: '1400', hostname: 'host-172-16-11-26', dns: dhcpIp });
    expect(lease.staticroutes).toBe('10.20.0.0/16 172.16.11.254 169.254.169.254/32 172.16.11.2 0.0.0.0/0 172.16.11.1');
    expect(await routes(vmNs(both, vmA))).toEqual(['default via 172.16.11.1 dev eth0', '10.20.0.0/16 via 172.16.11.254 dev eth0', '169.254.169.254 via 172.16.11.2 dev eth0', '172.16.11.0/24 dev eth0 proto kernel scope link src 172.16.11.26']);
    // The second guest gets the address the plan allocated it (after gateway and DHCP port).
    expect((await dhcpLease(vmNs(both, vmB), udhcpc)).ip).toBe(port(both, vmB).ip);
    expect(port(both, vmB).ip).toBe('172.16.11.3');
    const log = await readFile(both.dnsmasq('private')!.logFile, 'utf8');
    expect(log).toMatch(/DHCPACK\(ns-[0-9a-f-]{11}\) 172\.16\.11\.26 fa:16:3e:00:00:0a host-172-16-11-26/);
  });

  it('dhcp-agent path: the guest reaches the metadata service through the DHCP namespace, as itself', async () => {
    const ns = vmNs(both, vmA);
    const listing = await nsWget(ns, 'http://169.254.169.254/openstack');
    expect(listing.error).toBe('');
    expect(listing.body.split('\n')).toContain('latest');
    const meta = JSON.parse((await nsWget(ns, 'http://169.254.169.254/openstack/latest/meta_data.json')).body) as { uuid: string; name: string };
    expect(meta).toMatchObject({ uuid: vmA.uuid, name: 'vm-a' });
    const last = both.requests().at(-1)!;
    expect(last).toMatchObject({ path: '/openstack/latest/meta_data.json', status: 200, via: 'dhcp', namespace: both.names.dhcpNamespace(both.plan.networks[0]!.id), resourceId: both.plan.networks[0]!.id, remoteIp: '172.16.11.26', instanceId: vmA.uuid });
    // B, on the same network, is B.
    const metaB = JSON.parse((await nsWget(vmNs(both, vmB), 'http://169.254.169.254/openstack/latest/meta_data.json')).body) as { uuid: string };
    expect(metaB.uuid).toBe(vmB.uuid);
    // The request log is also a file in the cell's work dir.
    await both.agent.flush();
    const lines = (await readFile(join(work, 'both', 'metadata-agent.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.length).toBe(both.requests().length);
  });

  it("a guest's own X-Forwarded-For and router header change nothing", async () => {
    const r = await nsHttp(vmNs(both, vmA), { path: '/openstack/latest/meta_data.json', headers: { 'X-Forwarded-For': port(both, vmB).ip, 'X-Neutron-Router-ID': both.plan.routers[0]!.id, 'X-Instance-ID': vmB.uuid } });
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body.toString()) as { uuid: string }).uuid).toBe(vmA.uuid);
    expect(both.requests().at(-1)).toMatchObject({ via: 'dhcp', remoteIp: '172.16.11.26', instanceId: vmA.uuid });
  });

  it('l3-agent path: without the 169.254.169.254 route, the default route takes it through the router', async () => {
    const ns = vmNs(both, vmA);
    await metadataRoute(ns, undefined);
    try {
      expect(await routes(ns)).not.toContainEqual(expect.stringMatching(/^169\.254\.169\.254/));
      const meta = JSON.parse((await nsWget(ns, 'http://169.254.169.254/openstack/latest/meta_data.json')).body) as { uuid: string };
      expect(meta.uuid).toBe(vmA.uuid);
      expect(both.requests().at(-1)).toMatchObject({ via: 'router', namespace: both.names.routerNamespace(both.plan.routers[0]!.id), resourceId: both.plan.routers[0]!.id, remoteIp: '172.16.11.26', instanceId: vmA.uuid, status: 200 });
    } finally {
      await metadataRoute(ns, '172.16.11.2');
    }
  });

  it('l3-agent cell: DHCP routes 169.254.169.254 via the gateway (as neutron does on a routed subnet); the router answers', async () => {
    const ns = vmNs(l3, vmC);
    const lease = await dhcpLease(ns, udhcpc);
    expect(lease).toMatchObject({ ip: '172.16.11.26', router: '172.16.11.1', staticroutes: '169.254.169.254/32 172.16.11.1 0.0.0.0/0 172.16.11.1' });
    // Same addresses as the other cell, another instance: cells are isolated from each other.
    const meta = JSON.parse((await nsWget(ns, 'http://169.254.169.254/openstack/latest/meta_data.json')).body) as { uuid: string };
    expect(meta.uuid).toBe(vmC.uuid);
    expect(l3.requests().map((e) => [e.via, e.instanceId])).toEqual([['router', vmC.uuid]]);
    // With only the default route, still the router.
    await metadataRoute(ns, undefined);
    expect((await nsHttp(ns, { path: '/openstack' })).status).toBe(200);
    expect(l3.requests().at(-1)).toMatchObject({ via: 'router', instanceId: vmC.uuid });
    // No dhcp-agent proxy in this cell: nothing on 169.254.169.254 in its qdhcp namespace.
    const dhcpNs = l3.names.dhcpNamespace(l3.plan.networks[0]!.id);
    expect((await execa('ip', ['-n', dhcpNs, 'addr', 'show'])).stdout).not.toContain('169.254.169.254');
  });

  it('a request from an address that has no port → 404 with the reason, on both paths', async () => {
    const ns = vmNs(both, vmA);
    await execa('ip', ['-n', ns, 'addr', 'add', '172.16.11.99/24', 'dev', 'eth0']);
    try {
      const viaDhcp = await nsHttp(ns, { path: '/openstack', bind: '172.16.11.99' });
      expect(viaDhcp.status).toBe(404);
      expect(viaDhcp.body.toString()).toContain(`no port has 172.16.11.99 on network ${both.plan.networks[0]!.id}`);
      expect(both.requests().at(-1)).toMatchObject({ status: 404, via: 'dhcp', remoteIp: '172.16.11.99', reason: `no port has 172.16.11.99 on network ${both.plan.networks[0]!.id}` });
      expect(both.requests().at(-1)!.instanceId).toBeUndefined();
      await metadataRoute(ns, undefined);
      const viaRouter = await nsHttp(ns, { path: '/openstack', bind: '172.16.11.99' });
      expect(viaRouter.status).toBe(404);
      expect(both.requests().at(-1)).toMatchObject({ status: 404, via: 'router', reason: `no port has 172.16.11.99 on the networks of router ${both.plan.routers[0]!.id}` });
    } finally {
      await execa('ip', ['-n', ns, 'addr', 'del', '172.16.11.99/24', 'dev', 'eth0'], { reject: false });
      await metadataRoute(ns, '172.16.11.2');
    }
  });

  it("from inside, the host's loopback services and addresses are unreachable", async () => {
    let connections = 0;
    const server: Server = createServer((s) => {
      connections++;
      s.end('HTTP/1.0 200 OK\r\n\r\nhost\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const hostPort = (server.address() as { port: number }).port;
    try {
      const hostAddrs = Object.values(networkInterfaces())
        .flat()
        .filter((a) => a && a.family === 'IPv4' && !a.internal && !a.address.startsWith('172.16.11.'))
        .map((a) => a!.address);
      const dhcpNs = both.names.dhcpNamespace(both.plan.networks[0]!.id);
      const routerNs = both.names.routerNamespace(both.plan.routers[0]!.id);
      for (const ns of [vmNs(both, vmA), dhcpNs, routerNs, both.segmentNamespace]) {
        for (const addr of ['127.0.0.1', ...hostAddrs]) {
          const r = await nsWget(ns, `http://${addr}:${hostPort}/`);
          expect(r.ok, `${ns} → ${addr}:${hostPort}`).toBe(false);
          expect(r.error).toMatch(/refused|unreachable|timed out/i);
        }
      }
      expect(connections).toBe(0);
      // The only routes out of the router namespace are its own subnets.
      expect(await routes(routerNs)).toEqual(['172.16.11.0/24 dev ' + `qr-${both.plan.networks[0]!.routerPort!.id.slice(0, 11)} proto kernel scope link src 172.16.11.1`]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('teardown leaves no namespace, process or socket', async () => {
    const daemons = [...both.processes(), ...l3.processes()];
    expect(daemons.length).toBe(5); // dnsmasq ×2, haproxy ×3
    for (const d of daemons) expect(await processRunning(d.pid)).toBe(true);
    const sockets = [both.agent.socketPath, l3.agent.socketPath];
    for (const s of sockets) expect((await stat(s)).isSocket()).toBe(true);
    const namespaces = [...both.namespaces(), ...l3.namespaces()];

    expect(await both.close()).toEqual([]);
    expect(await l3.close()).toEqual([]);

    const listed = await listNamespaces();
    for (const ns of namespaces) expect(listed).not.toContain(ns);
    expect(listed.filter((n) => n.startsWith(`${runPrefix()}-`))).toEqual([]);
    for (const d of daemons) expect(await processRunning(d.pid), d.name).toBe(false);
    // Nothing runs with a file of the work dir on its command line (dnsmasq, haproxy configs).
    expect(await commandLinesMentioning(`${work}/`)).toEqual([]);
    for (const s of sockets) await expect(stat(s)).rejects.toThrow(/ENOENT/);
    await expect(stat(both.names.socketDir())).rejects.toThrow(/ENOENT/);
    expect(await hostLinks()).toEqual(hostLinksBefore);
  });
});
