import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startDnsmasq, type DnsmasqProcess } from './dnsmasq.ts';
import { METADATA_CIDR, METADATA_IP } from './dnsmasq-config.ts';
import { DHCP_METADATA_PORT, L3_METADATA_PORT } from './haproxy-config.ts';
import { startHaproxy, type HaproxyProcess } from './haproxy.ts';
import { neutronDb } from './instance-lookup.ts';
import { CommandError, ip, listNamespaces, nsExec } from './ip.ts';
import { startMetadataAgent, type AgentRequestLogEntry, type MetadataAgent } from './metadata-agent.ts';
import { planTopology, type PlannedNetwork, type PlannedPort, type TopologyPlan, type TopologySpec } from '../../model/topology.ts';
import { bridgeName, CellNames, dhcpDeviceName, GUEST_DEVICE, routerDeviceName, tapName } from './names.ts';
import { qemuNetdevArgs, qemuNetnsPrefix } from './qemu.ts';
import { openNetnsStream, type NetnsStream } from './relay.ts';
import { removeNamespace, sweepStale, writeOwnerStamp } from './sweep.ts';
import { CleanupStack, describeFailures } from '../../util/cleanup-stack.ts';

/**
 * One cell's neutron networks, built from real parts the way neutron's agents build them
 * (linuxbridge flavour):
 *
 *   segment namespace   one bridge brq<net> per network; VM taps (QEMU runs here) and the
 *                       bridge ends tap<port> of every other port's veth pair
 *   qdhcp-<net>         DHCP port ns-<port> with its address (+169.254.169.254/32 for the
 *                       dhcp-agent path), dnsmasq, haproxy on 169.254.169.254:80
 *   qrouter-<router>    one qr-<port> per attached network on its gateway address, iptables
 *                       REDIRECT of 169.254.169.254:80 to haproxy on 9697
 *   qprobe-<port>       only on a network with neither: neutron-debug's probe, the host's way in
 *
 * Nothing links a namespace to the host's network: the haproxys reach the metadata agent over
 * a unix socket, and the host reaches guests through a socat relay started inside a namespace.
 * Every step registers its undo as it happens; `close()` unwinds them newest first.
 */

export interface NovaEndpoint {
  host: string;
  port: number;
  /** metadata_proxy_shared_secret. */
  secret: string;
}

export interface BuildTopologyOptions {
  /** The cell's short name, [a-z0-9]{1,12} (names.ts shortId() makes one from a label). */
  cell: string;
  spec: TopologySpec;
  /** The cell's work dir: dnsmasq/haproxy configs and logs, the agent's request log. */
  workDir: string;
  /** The nova-like metadata service the agent forwards to (MetadataService's port and secret). */
  nova: NovaEndpoint;
  /** The pid named as owner (tests use a dead one to exercise the sweep). Default: this process. */
  ownerPid?: number;
  /** Sweep leftovers of dead runs first (default true). */
  sweep?: boolean;
  /** Register this topology's teardown there too, as one step. */
  parent?: CleanupStack;
}

export interface Topology {
  cell: string;
  names: CellNames;
  plan: TopologyPlan;
  /** Where QEMU must run: the namespace holding the bridges and taps. */
  segmentNamespace: string;
  /** Every namespace created, in creation order. */
  namespaces(): string[];
  /** The daemons running (dnsmasq, haproxy), with their pids. */
  processes(): { name: string; pid: number; namespace: string }[];
  dnsmasq(networkName: string): DnsmasqProcess | undefined;
  haproxys(): HaproxyProcess[];
  agent: MetadataAgent;
  /** The agent's request log: which path (router or DHCP namespace) each request came by. */
  requests(): AgentRequestLogEntry[];
  /** The stand-in VM namespace of a `nic: veth` port. */
  vmNamespace(portId: string): string;
  /** `ip netns exec <segment>`: prefix QEMU's argv with it. */
  qemuPrefix(): string[];
  /** `-netdev tap,…` and `-device virtio-net-pci,…` for a `nic: tap` port as QEMU NIC `index`. */
  qemuNetdevArgs(portId: string, index: number): string[];
  /** The namespace a relay to a guest on this network runs in. */
  relayNamespace(networkId: string): string;
  /** A TCP stream to a VM port's address (default :22), relayed inside the network's namespace. */
  connect(portId: string, tcpPort?: number): Promise<NetnsStream>;
  /** Same, to any address on the network (e.g. a guest that took another address). */
  openStream(networkId: string, ip: string, tcpPort: number): Promise<NetnsStream>;
  /** Unwinds everything; returns what failed (nothing when clean). */
  close(): Promise<Error[]>;
}

function isGone(err: unknown): boolean {
  return err instanceof CommandError && /Cannot find device|No such file|does not exist|Bad rule|No chain\/target\/match/i.test(err.message);
}

/** An undo that treats "already gone" as done (a namespace deleted first takes its devices along). */
function tolerant(fn: () => Promise<unknown>): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  };
}

export async function buildTopology(opts: BuildTopologyOptions): Promise<Topology> {
  const plan = planTopology(opts.spec);
  const names = new CellNames(opts.cell, opts.ownerPid);
  if (opts.sweep ?? true) await sweepStale();
  const mine = `${names.prefix}-${names.cell}-`;
  const clash = (await listNamespaces()).filter((n) => n.startsWith(mine));
  if (clash.length > 0) throw new Error(`cell ${opts.cell}: namespaces ${clash.join(', ')} exist already (another topology of this cell is up)`);

  const t = new CleanupStack(`neutron topology ${opts.cell}`);
  const unwind = async (): Promise<Error[]> => describeFailures(await t.unwind()).map((m) => new Error(m));
  const created: string[] = [];
  const dnsmasqs = new Map<string, DnsmasqProcess>();
  const haproxys: HaproxyProcess[] = [];
  const relays = new Set<NetnsStream>();
  const vmNamespaces = new Map<string, string>();
  const routerNs = new Map(plan.routers.map((r) => [r.id, names.routerNamespace(r.id)]));

  const addNamespace = async (name: string) => {
    await ip(['netns', 'add', name]);
    t.defer(`namespace ${name}`, () => removeNamespace(name));
    created.push(name);
    await ip(['-n', name, 'link', 'set', 'lo', 'up']);
  };
  const mtu = (net: PlannedNetwork) => (net.mtu !== undefined ? ['mtu', String(net.mtu)] : []);

  /** A port's veth pair: tap<port> on the network's bridge, `inner` in `namespace` with the port's MAC. */
  const plugVeth = async (net: PlannedNetwork, port: PlannedPort, namespace: string, inner: string, withAddress = true) => {
    const outer = tapName(port.id);
    await ip(['-n', names.segment, 'link', 'add', outer, 'type', 'veth', 'peer', 'name', inner, 'netns', namespace]);
    t.defer(`veth ${outer}`, tolerant(() => ip(['-n', names.segment, 'link', 'del', outer])));
    await ip(['-n', names.segment, 'link', 'set', outer, 'master', bridgeName(net.id), ...mtu(net), 'up']);
    await ip(['-n', namespace, 'link', 'set', inner, 'address', port.mac, ...mtu(net), 'up']);
    // Addresses go with the device: no undo of their own.
    if (withAddress) await ip(['-n', namespace, 'addr', 'add', `${port.ip}/${net.subnet.prefixLength}`, 'dev', inner]);
  };

  const iptables = async (namespace: string, table: string, chain: string, rule: string[]) => {
    await nsExec(namespace, ['iptables', '-w', '-t', table, '-A', chain, ...rule]);
    t.defer(`iptables ${namespace} ${table} ${chain} ${rule.join(' ')}`, tolerant(() => nsExec(namespace, ['iptables', '-w', '-t', table, '-D', chain, ...rule])));
  };

  let agent: MetadataAgent | undefined;
  try {
    await mkdir(opts.workDir, { recursive: true });
    const socketDir = names.socketDir();
    await mkdir(socketDir, { recursive: true, mode: 0o700 });
    t.defer(`socket dir ${socketDir}`, () => rm(socketDir, { recursive: true, force: true }));
    await writeOwnerStamp(socketDir, names.pid);

    const proxyNamespaces: Record<string, string> = {};
    for (const r of plan.routers) proxyNamespaces[r.id] = routerNs.get(r.id)!;
    for (const n of plan.networks) if (n.dhcpPort) proxyNamespaces[n.id] = names.dhcpNamespace(n.id);
    agent = await startMetadataAgent({
      // neutron's default name for it ($state_path/metadata_proxy).
      socketPath: join(socketDir, 'metadata_proxy'),
      db: neutronDb(plan),
      nova: { host: opts.nova.host, port: opts.nova.port },
      secret: opts.nova.secret,
      namespaces: proxyNamespaces,
      logFile: join(opts.workDir, 'metadata-agent.jsonl'),
    });
    const started = agent;
    t.defer('metadata agent', () => started.close());

    await addNamespace(names.segment);
    for (const net of plan.networks) {
      const br = bridgeName(net.id);
      await ip(['-n', names.segment, 'link', 'add', br, 'type', 'bridge']);
      t.defer(`bridge ${br}`, tolerant(() => ip(['-n', names.segment, 'link', 'del', br])));
      await ip(['-n', names.segment, 'link', 'set', br, ...mtu(net), 'up']);
    }

    for (const net of plan.networks) {
      const dhcpMeta = net.metadata === 'dhcp-agent' || net.metadata === 'both';
      if (net.dhcpPort) {
        const ns = names.dhcpNamespace(net.id);
        const dev = dhcpDeviceName(net.dhcpPort.id);
        await addNamespace(ns);
        await plugVeth(net, net.dhcpPort, ns, dev);
        // neutron's DeviceManager gives the DHCP namespace the subnet's default route.
        if (net.subnet.gatewayIp) await ip(['-n', ns, 'route', 'add', 'default', 'via', net.subnet.gatewayIp, 'dev', dev]);
        if (dhcpMeta) await ip(['-n', ns, 'addr', 'add', METADATA_CIDR, 'dev', dev]);
        // dnsmasq binds the port's addresses as they are when it starts: after them.
        const d = await startDnsmasq({ network: net, namespace: ns, workDir: opts.workDir });
        t.defer(`dnsmasq ${net.name}`, () => d.stop());
        dnsmasqs.set(net.name, d);
        if (dhcpMeta) {
          const h = await startHaproxy({
            config: { bindAddress: METADATA_IP, port: DHCP_METADATA_PORT, resource: { kind: 'network', id: net.id }, socketPath: started.socketPath },
            namespace: ns,
            workDir: opts.workDir,
            stem: `haproxy-qdhcp-${net.name}`,
          });
          t.defer(`haproxy qdhcp ${net.name}`, () => h.stop());
          haproxys.push(h);
        }
      }
      if (net.probePort) {
        const ns = names.probeNamespace(net.probePort.id);
        await addNamespace(ns);
        await plugVeth(net, net.probePort, ns, GUEST_DEVICE);
      }
    }

    for (const router of plan.routers) {
      const ns = routerNs.get(router.id)!;
      await addNamespace(ns);
      // A router routes between its subnets.
      // (/proc/sys/net is the namespace's own; no sysctl binary needed.)
      await nsExec(ns, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
      const attached = plan.networks.filter((n) => n.routerId === router.id);
      const metadataDevs: string[] = [];
      for (const net of attached) {
        const dev = routerDeviceName(net.routerPort!.id);
        await plugVeth(net, net.routerPort!, ns, dev);
        if (net.metadata === 'l3-agent' || net.metadata === 'both') metadataDevs.push(dev);
      }
      if (metadataDevs.length === 0) continue;
      // neutron's l3-agent metadata rules: REDIRECT 169.254.169.254:80 arriving on a router
      // interface to the proxy, and accept 9697 only for packets so redirected (marked).
      for (const dev of metadataDevs) {
        const match = ['-d', METADATA_CIDR, '-i', dev, '-p', 'tcp', '-m', 'tcp', '--dport', '80'];
        await iptables(ns, 'mangle', 'PREROUTING', [...match, '-j', 'MARK', '--set-xmark', '0x1/0xffff']);
        await iptables(ns, 'nat', 'PREROUTING', [...match, '-j', 'REDIRECT', '--to-ports', String(L3_METADATA_PORT)]);
      }
      await iptables(ns, 'filter', 'INPUT', ['-m', 'mark', '--mark', '0x1/0xffff', '-j', 'ACCEPT']);
      await iptables(ns, 'filter', 'INPUT', ['-p', 'tcp', '-m', 'tcp', '--dport', String(L3_METADATA_PORT), '-j', 'DROP']);
      const h = await startHaproxy({
        config: { bindAddress: '0.0.0.0', port: L3_METADATA_PORT, resource: { kind: 'router', id: router.id }, socketPath: started.socketPath },
        namespace: ns,
        workDir: opts.workDir,
        stem: `haproxy-qrouter-${router.name}`,
      });
      t.defer(`haproxy qrouter ${router.name}`, () => h.stop());
      haproxys.push(h);
    }

    for (const net of plan.networks) {
      for (const port of net.ports) {
        if (port.nic === 'veth') {
          const ns = names.vmNamespace(port.id);
          await addNamespace(ns);
          // A stand-in VM starts unconfigured, as a guest does before DHCP or its config drive.
          await plugVeth(net, port, ns, GUEST_DEVICE, false);
          vmNamespaces.set(port.id, ns);
          continue;
        }
        const tap = tapName(port.id);
        await ip(['-n', names.segment, 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
        t.defer(`tap ${tap}`, tolerant(() => ip(['-n', names.segment, 'link', 'del', tap])));
        await ip(['-n', names.segment, 'link', 'set', tap, 'master', bridgeName(net.id), ...mtu(net), 'up']);
      }
    }

    // Registered last, so it runs first: relays still open when the topology goes.
    t.defer('relays', () => {
      for (const r of relays) r.destroy();
    });
  } catch (err) {
    const errors = await unwind();
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`cell ${opts.cell}: building the neutron topology: ${msg}${errors.length ? `; teardown: ${errors.map((e) => e.message).join('; ')}` : ''}`, { cause: err });
  }
  const theAgent = agent!;
  if (opts.parent) opts.parent.defer(`neutron topology ${opts.cell}`, async () => {
    const errors = await unwind();
    if (errors.length) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
  });

  const vmPort = (portId: string): { net: PlannedNetwork; port: PlannedPort } => {
    for (const net of plan.networks) {
      const port = net.ports.find((p) => p.id === portId);
      if (port) return { net, port };
    }
    throw new Error(`port ${portId} is not a VM port of cell ${opts.cell}`);
  };
  const relayNamespace = (networkId: string): string => {
    const net = plan.networks.find((n) => n.id === networkId);
    if (!net) throw new Error(`network ${networkId} is not in cell ${opts.cell}`);
    if (net.dhcpPort) return names.dhcpNamespace(net.id);
    if (net.routerId) return routerNs.get(net.routerId)!;
    return names.probeNamespace(net.probePort!.id);
  };
  const openStream = async (networkId: string, address: string, tcpPort: number) => {
    const stream = await openNetnsStream(relayNamespace(networkId), address, tcpPort);
    relays.add(stream);
    stream.once('close', () => relays.delete(stream));
    return stream;
  };

  return {
    cell: opts.cell,
    names,
    plan,
    segmentNamespace: names.segment,
    namespaces: () => [...created],
    processes: () => [...dnsmasqs.values(), ...haproxys].filter((d) => d.running()).map((d) => ({ name: d.name, pid: d.pid, namespace: d.namespace })),
    dnsmasq: (networkName) => dnsmasqs.get(networkName),
    haproxys: () => [...haproxys],
    agent: theAgent,
    requests: () => theAgent.requests(),
    vmNamespace(portId) {
      const ns = vmNamespaces.get(portId);
      if (!ns) throw new Error(`port ${portId} has no stand-in VM namespace (its nic is not veth)`);
      return ns;
    },
    qemuPrefix: () => qemuNetnsPrefix(names.segment),
    qemuNetdevArgs: (portId, index) => qemuNetdevArgs(vmPort(portId).port, index),
    relayNamespace,
    connect(portId, tcpPort = 22) {
      const { net, port } = vmPort(portId);
      return openStream(net.id, port.ip, tcpPort);
    },
    openStream,
    close: unwind,
  };
}
