import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseCidr } from '../../util/ipv4.ts';
import type { CleanupStack } from '../../util/cleanup-stack.ts';
import { mustInNamespace, startDaemon, type Daemon } from './daemon.ts';
import { dnsmasqConfig } from './dnsmasq.ts';
import { haproxyConfig } from './haproxy.ts';
import { METADATA_IP, ROUTER_PROXY_PORT, servesViaDhcp, servesViaRouter, type NeutronNetwork, type Port } from './model.ts';
import { namespaceNames, removeNamespace } from './names.ts';

/** Interface names inside the namespaces (each namespace has its own, so every cell uses the same). */
export const BRIDGE = 'br-int';
const DHCP_PORT = 'ns-dhcp';
const ROUTER_PORT = 'qr-gw';

export interface BuiltNetwork {
  network: NeutronNetwork;
  /** The L2 segment: the bridge, every VM tap, the peers of the DHCP and router ports. */
  segment: string;
  dhcp?: { namespace: string; dnsmasq: Daemon; proxy?: Daemon; logFile: string };
  router?: { namespace: string; proxy?: Daemon };
  /** A tap on the bridge for a VM NIC (QEMU opens it from inside the segment namespace). */
  addTap(name: string): Promise<void>;
}

async function ip(args: readonly string[]): Promise<void> {
  const r = await execa('ip', args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim()}`);
}

async function addNamespace(name: string, cleanup: CleanupStack): Promise<void> {
  await ip(['netns', 'add', name]);
  cleanup.defer(`remove namespace ${name}`, () => removeNamespace(name));
  await ip(['-n', name, 'link', 'set', 'lo', 'up']);
}

/** A veth pair: one end on the segment's bridge, the other (the port) in `namespace` with `address`. */
async function plugPort(segment: string, namespace: string, portName: string, address: string, prefix: number): Promise<void> {
  const peer = `${portName}-p`;
  await ip(['-n', segment, 'link', 'add', peer, 'type', 'veth', 'peer', 'name', portName, 'netns', namespace]);
  await ip(['-n', segment, 'link', 'set', peer, 'master', BRIDGE, 'up']);
  await ip(['-n', namespace, 'addr', 'add', `${address}/${prefix}`, 'dev', portName]);
  await ip(['-n', namespace, 'link', 'set', portName, 'up']);
}

/**
 * Builds one network as neutron's agents would: a segment namespace with a bridge; with DHCP on, a
 * qdhcp namespace holding the DHCP port and dnsmasq (and, for the dhcp-agent metadata path,
 * 169.254.169.254 on that port and haproxy on :80); with a router attached, a qrouter namespace
 * holding the gateway port (and, for the l3-agent path, the iptables REDIRECT to 9697 and haproxy
 * there). No namespace has any link to the host's network: only the agent's unix socket crosses.
 * Every step registers its undo on `cleanup` as it happens.
 */
export async function buildNetwork(net: NeutronNetwork, ports: readonly Port[], opts: { workDir: string; agentSocket: string; cleanup: CleanupStack }): Promise<BuiltNetwork> {
  const { cleanup, workDir } = opts;
  const names = namespaceNames();
  const { prefix } = parseCidr(net.subnet.cidr);
  await addNamespace(names.seg, cleanup);
  await ip(['-n', names.seg, 'link', 'add', BRIDGE, 'type', 'bridge']);
  await ip(['-n', names.seg, 'link', 'set', BRIDGE, 'up']);
  const built: BuiltNetwork = {
    network: net,
    segment: names.seg,
    addTap: async (name) => {
      await ip(['-n', names.seg, 'tuntap', 'add', 'dev', name, 'mode', 'tap']);
      await ip(['-n', names.seg, 'link', 'set', name, 'master', BRIDGE, 'up']);
    },
  };

  if (net.subnet.enableDhcp) {
    await addNamespace(names.dhcp, cleanup);
    await plugPort(names.seg, names.dhcp, DHCP_PORT, net.dhcpIp, prefix);
    const files = { interface: DHCP_PORT, pidFile: join(workDir, `dnsmasq-${net.id}.pid`), logFile: join(workDir, `dnsmasq-${net.id}.log`), leaseFile: join(workDir, `dnsmasq-${net.id}.leases`) };
    const conf = join(workDir, `dnsmasq-${net.id}.conf`);
    await writeFile(conf, dnsmasqConfig(net, ports, files));
    const dnsmasq = await startDaemon({ name: `dnsmasq (${net.id})`, namespace: names.dhcp, argv: ['dnsmasq', '--keep-in-foreground', `--conf-file=${conf}`], listen: { proto: 'udp', port: 67 }, cleanup });
    built.dhcp = { namespace: names.dhcp, dnsmasq, logFile: files.logFile };
    if (servesViaDhcp(net)) {
      await ip(['-n', names.dhcp, 'addr', 'add', `${METADATA_IP}/32`, 'dev', DHCP_PORT]);
      built.dhcp.proxy = await startProxy(names.dhcp, { kind: 'dhcp', networkId: net.id }, opts, `haproxy-dhcp-${net.id}`, 80);
    }
  }

  if (net.routerAttached) {
    await addNamespace(names.rtr, cleanup);
    await plugPort(names.seg, names.rtr, ROUTER_PORT, net.subnet.gatewayIp, prefix);
    built.router = { namespace: names.rtr };
    if (servesViaRouter(net)) {
      await mustInNamespace(names.rtr, ['iptables', '-t', 'nat', '-A', 'PREROUTING', '-d', `${METADATA_IP}/32`, '-i', ROUTER_PORT, '-p', 'tcp', '--dport', '80', '-j', 'REDIRECT', '--to-ports', String(ROUTER_PROXY_PORT)]);
      built.router.proxy = await startProxy(names.rtr, { kind: 'router', routerId: net.routerId }, opts, `haproxy-router-${net.id}`, ROUTER_PROXY_PORT);
    }
  }
  return built;
}

async function startProxy(namespace: string, via: Parameters<typeof haproxyConfig>[0], opts: { workDir: string; agentSocket: string; cleanup: CleanupStack }, name: string, port: number): Promise<Daemon> {
  const conf = join(opts.workDir, `${name}.cfg`);
  await writeFile(conf, haproxyConfig(via, opts.agentSocket, join(opts.workDir, `${name}.pid`)));
  return startDaemon({ name, namespace, argv: ['haproxy', '-db', '-f', conf], listen: { proto: 'tcp', port }, cleanup: opts.cleanup });
}
