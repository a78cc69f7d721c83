import { createHash } from 'node:crypto';
import { UserError } from '../util/errors.ts';
import { fromInt, isHostAddress, isIPv4, isIPv4Cidr, netContains, netsOverlap, parseIPv4, parseNet, toInt, type Ipv4Net } from '../util/ipv4-net.ts';

/**
 * A cell's networks described the way an OpenStack user describes them (network, subnet, router,
 * ports), and `planTopology()`, which resolves that description into what neutron would have in
 * its database: ids, the router interface on the gateway address, the DHCP port, and every
 * port's fixed IP. Pure: the plan is what topology.ts builds, dnsmasq-config.ts and
 * haproxy-config.ts configure, and the metadata agent looks instances up in.
 */

/** Which neutron agent answers 169.254.169.254 for the network. */
export const METADATA_PATHS = ['l3-agent', 'dhcp-agent', 'both', 'none'] as const;
export type MetadataPath = (typeof METADATA_PATHS)[number];

export interface HostRouteSpec {
  destination: string;
  nexthop: string;
}

export interface SubnetSpec {
  id?: string;
  cidr: string;
  /** Default: the first host address (neutron's default); null: a subnet without gateway. */
  gateway_ip?: string | null;
  /** Default true, as in neutron. */
  enable_dhcp?: boolean;
  dns_nameservers?: string[];
  host_routes?: HostRouteSpec[];
}

export interface NetworkSpec {
  name: string;
  id?: string;
  /** Link MTU; when absent no MTU is advertised and devices keep the kernel default (1500). */
  mtu?: number;
  /** Name of the router the subnet is attached to (on its gateway address); absent: not attached. */
  router?: string;
  /** Default `l3-agent`: neutron's default configuration (enable_isolated_metadata off). */
  metadata?: MetadataPath;
  subnet: SubnetSpec;
}

/** How a VM's NIC joins the segment: a tap for QEMU, or a veth into a namespace standing in for the VM. */
export type GuestNicKind = 'tap' | 'veth';

export interface PortSpec {
  id?: string;
  /** Network name. */
  network: string;
  mac: string;
  /** Default: allocated from the subnet. */
  fixed_ip?: string;
  /** The instance uuid (neutron's device_id for compute ports). */
  device_id: string;
  /** The instance's project (nova checks it against X-Tenant-ID). */
  tenant_id: string;
  nic?: GuestNicKind;
}

export interface TopologySpec {
  networks: NetworkSpec[];
  ports: PortSpec[];
  /** Optional fixed ids for routers named by networks; others get ids derived from their names. */
  routers?: { name: string; id: string }[];
}

export type DeviceOwner = 'compute:nova' | 'network:dhcp' | 'network:router_interface' | 'network:probe';

export interface PlannedPort {
  id: string;
  networkId: string;
  subnetId: string;
  mac: string;
  ip: string;
  deviceOwner: DeviceOwner;
  /** Instance uuid, router id, or the DHCP/probe device id. */
  deviceId: string;
  tenantId: string;
  /** neutron's DHCP host name for the address: `host-172-16-11-26`. */
  hostname: string;
  /** For compute ports only. */
  nic?: GuestNicKind;
}

export interface PlannedHostRoute {
  destination: string;
  nexthop: string;
}

export interface PlannedSubnet {
  id: string;
  cidr: string;
  networkAddress: string;
  netmask: string;
  prefixLength: number;
  gatewayIp: string | null;
  enableDhcp: boolean;
  dnsNameservers: string[];
  hostRoutes: PlannedHostRoute[];
}

export interface PlannedNetwork {
  id: string;
  name: string;
  mtu?: number;
  metadata: MetadataPath;
  subnet: PlannedSubnet;
  routerId?: string;
  routerPort?: PlannedPort;
  /** Only on a DHCP-enabled subnet: neutron's dhcp-agent serves no network without one. */
  dhcpPort?: PlannedPort;
  /** A neutron-debug probe, added when the network has neither DHCP nor router: the host's way in. */
  probePort?: PlannedPort;
  /** The VM ports. */
  ports: PlannedPort[];
}

export interface PlannedRouter {
  id: string;
  name: string;
  networkIds: string[];
}

export interface TopologyPlan {
  networks: PlannedNetwork[];
  routers: PlannedRouter[];
  /** What the description leads to that a reader might not expect (no metadata path, …). */
  notes: string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;

function fail(field: string, message: string): never {
  throw new UserError(`${field}: ${message}`);
}

/** A stable uuid-shaped id for a named object, so plans (and their namespace names) are reproducible. */
export function derivedUuid(kind: string, name: string): string {
  const h = createHash('sha256').update(`cloudprobe:${kind}:${name}`, 'utf8').digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** neutron's base_mac fa:16:3e with three bytes from the port id. */
export function derivedMac(portId: string): string {
  const h = createHash('sha256').update(portId, 'utf8').digest('hex');
  return `fa:16:3e:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
}

export function dhcpHostname(ip: string): string {
  return `host-${ip.replace(/[.:]/g, '-')}`;
}

function checkId(field: string, id: string | undefined, fallback: () => string): string {
  if (id === undefined) return fallback();
  const lower = id.toLowerCase();
  if (!UUID.test(lower)) fail(field, `"${id}" is not a uuid`);
  return lower;
}

function checkIPv4(field: string, value: unknown): string {
  if (typeof value !== 'string' || !isIPv4(value)) fail(field, `${JSON.stringify(value)} is not an IPv4 address`);
  return parseIPv4(value).toString();
}

function checkCidr(field: string, value: unknown, opts: { exact: boolean }): Ipv4Net {
  if (typeof value !== 'string' || !isIPv4Cidr(value)) fail(field, `${JSON.stringify(value)} is not an IPv4 CIDR like 172.16.11.0/24`);
  const net = parseNet(value);
  if (opts.exact && net.cidr !== value) fail(field, `"${value}" isn't a recognized IP subnet cidr, "${net.cidr}" is recommended`);
  return net;
}

function planSubnet(field: string, spec: SubnetSpec, networkName: string): { subnet: PlannedSubnet; net: Ipv4Net } {
  if (typeof spec !== 'object' || spec === null) fail(field, 'a subnet (cidr, gateway_ip, …) is required');
  const net = checkCidr(`${field}.cidr`, spec.cidr, { exact: true });
  if (net.prefixLength > 29) fail(`${field}.cidr`, `/${net.prefixLength} leaves no room for a gateway, a DHCP port and guests (at most /29)`);
  let gatewayIp: string | null;
  if (spec.gateway_ip === null) gatewayIp = null;
  else if (spec.gateway_ip === undefined) gatewayIp = fromInt(toInt(net.network) + 1).toString();
  else {
    gatewayIp = checkIPv4(`${field}.gateway_ip`, spec.gateway_ip);
    if (!isHostAddress(net, gatewayIp)) fail(`${field}.gateway_ip`, `${gatewayIp} is not a host address of ${net.cidr}`);
  }
  const enableDhcp = spec.enable_dhcp ?? true;
  if (typeof enableDhcp !== 'boolean') fail(`${field}.enable_dhcp`, 'must be true or false');
  const dnsNameservers = (spec.dns_nameservers ?? []).map((d, i) => checkIPv4(`${field}.dns_nameservers[${i}]`, d));
  const hostRoutes = (spec.host_routes ?? []).map((r, i) => {
    const f = `${field}.host_routes[${i}]`;
    const destination = checkCidr(`${f}.destination`, r?.destination, { exact: true }).cidr;
    const nexthop = checkIPv4(`${f}.nexthop`, r?.nexthop);
    return { destination, nexthop };
  });
  return {
    net,
    subnet: {
      id: checkId(`${field}.id`, spec.id, () => derivedUuid('subnet', networkName)),
      cidr: net.cidr,
      networkAddress: net.network.toString(),
      netmask: net.netmask,
      prefixLength: net.prefixLength,
      gatewayIp,
      enableDhcp,
      dnsNameservers,
      hostRoutes,
    },
  };
}

/**
 * neutron's IPAM hands out free addresses of the allocation pool (the subnet's host addresses
 * minus the gateway). Recent neutron picks randomly among the first free ones; the plan takes the
 * lowest free address, so a cell gets the same addresses on every run.
 */
class Allocator {
  private readonly used = new Set<number>();
  constructor(
    private readonly net: Ipv4Net,
    gatewayIp: string | null,
  ) {
    if (gatewayIp) this.used.add(toInt(parseIPv4(gatewayIp)));
  }

  take(ip: string): boolean {
    const n = toInt(parseIPv4(ip));
    if (this.used.has(n)) return false;
    this.used.add(n);
    return true;
  }

  next(): string | undefined {
    for (let n = toInt(this.net.network) + 1; n < toInt(this.net.broadcast); n++) {
      if (!this.used.has(n)) {
        this.used.add(n);
        return fromInt(n).toString();
      }
    }
    return undefined;
  }
}

/** A port the cloud itself owns (router interface, DHCP, probe): no tenant, its MAC from its id. */
function servicePort(network: PlannedNetwork, id: string, ip: string, deviceOwner: DeviceOwner, deviceId: string): PlannedPort {
  return { id, networkId: network.id, subnetId: network.subnet.id, mac: derivedMac(id), ip, deviceOwner, deviceId, tenantId: '', hostname: dhcpHostname(ip) };
}

/** Resolves a description into neutron's view of it; bad input → a UserError naming the field. */
export function planTopology(spec: TopologySpec): TopologyPlan {
  if (!Array.isArray(spec?.networks) || spec.networks.length === 0) fail('networks', 'at least one network is required');
  if (!Array.isArray(spec.ports)) fail('ports', 'must be a list');
  const notes: string[] = [];
  const routerIds = new Map<string, string>();
  (spec.routers ?? []).forEach((r, i) => {
    if (typeof r?.name !== 'string' || r.name === '') fail(`routers[${i}].name`, 'a router name is required');
    routerIds.set(r.name, checkId(`routers[${i}].id`, r.id, () => derivedUuid('router', r.name)));
  });

  const byName = new Map<string, { network: PlannedNetwork; net: Ipv4Net; alloc: Allocator; macs: Set<string> }>();
  const ids = new Set<string>();
  const unique = (field: string, id: string) => {
    if (ids.has(id)) fail(field, `id ${id} is used twice`);
    ids.add(id);
  };
  const networks = spec.networks.map((n, i) => {
    const field = `networks[${i}]`;
    if (typeof n?.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(n.name)) fail(`${field}.name`, 'a name (letters, digits, _ . -) is required');
    if (byName.has(n.name)) fail(`${field}.name`, `network "${n.name}" is defined twice`);
    const metadata = n.metadata ?? 'l3-agent';
    if (!METADATA_PATHS.includes(metadata)) fail(`${field}.metadata`, `"${String(metadata)}" is not one of ${METADATA_PATHS.join(', ')}`);
    if (n.mtu !== undefined && (!Number.isInteger(n.mtu) || n.mtu < 576 || n.mtu > 9000)) fail(`${field}.mtu`, `${String(n.mtu)} is not an MTU from 576 to 9000`);
    const { subnet, net } = planSubnet(`${field}.subnet`, n.subnet, n.name);
    const network: PlannedNetwork = {
      id: checkId(`${field}.id`, n.id, () => derivedUuid('network', n.name)),
      name: n.name,
      ...(n.mtu !== undefined ? { mtu: n.mtu } : {}),
      metadata,
      subnet,
      ports: [],
    };
    unique(`${field}.id`, network.id);
    unique(`${field}.subnet.id`, subnet.id);
    const alloc = new Allocator(net, subnet.gatewayIp);
    byName.set(n.name, { network, net, alloc, macs: new Set() });

    if (n.router !== undefined) {
      if (typeof n.router !== 'string' || n.router === '') fail(`${field}.router`, 'must be a router name');
      if (subnet.gatewayIp === null) fail(`${field}.router`, 'a router is attached on the subnet gateway_ip, which is null');
      if (!routerIds.has(n.router)) routerIds.set(n.router, derivedUuid('router', n.router));
      network.routerId = routerIds.get(n.router)!;
      network.routerPort = servicePort(network, derivedUuid('router-port', `${n.router}:${n.name}`), subnet.gatewayIp, 'network:router_interface', network.routerId);
    }
    return { network, net, spec: n };
  });

  // Fixed IPs asked for first: they are not up for grabs by the DHCP port or other ports.
  spec.ports.forEach((p, i) => {
    const field = `ports[${i}]`;
    const entry = typeof p?.network === 'string' ? byName.get(p.network) : undefined;
    if (!entry) fail(`${field}.network`, `${JSON.stringify(p?.network)} is not a network of this topology`);
    if (p.fixed_ip === undefined) return;
    const ip = checkIPv4(`${field}.fixed_ip`, p.fixed_ip);
    if (!isHostAddress(entry.net, ip)) fail(`${field}.fixed_ip`, `${ip} is not a host address of ${entry.net.cidr}`);
    if (ip === entry.network.subnet.gatewayIp) fail(`${field}.fixed_ip`, `${ip} is the gateway_ip of ${entry.network.name}`);
    if (!entry.alloc.take(ip)) fail(`${field}.fixed_ip`, `${ip} is already allocated on ${entry.network.name}`);
  });

  for (const { network } of networks) {
    const entry = byName.get(network.name)!;
    if (!network.subnet.enableDhcp) continue;
    const ip = entry.alloc.next();
    if (!ip) fail(`networks[${networks.findIndex((n) => n.network === network)}].subnet.cidr`, 'no address left for the DHCP port');
    // neutron's device id: dhcp<host uuid>-<network id>; one agent here.
    network.dhcpPort = servicePort(network, derivedUuid('dhcp-port', network.name), ip, 'network:dhcp', `dhcp-${network.id}`);
  }

  spec.ports.forEach((p, i) => {
    const field = `ports[${i}]`;
    const entry = byName.get(p.network)!;
    const id = checkId(`${field}.id`, p.id, () => derivedUuid('port', `${p.network}:${i}:${String(p.mac)}`));
    unique(`${field}.id`, id);
    if (typeof p.mac !== 'string' || !MAC.test(p.mac.toLowerCase())) fail(`${field}.mac`, `${JSON.stringify(p.mac)} is not a MAC address like fa:16:3e:12:34:56`);
    const mac = p.mac.toLowerCase();
    if (entry.macs.has(mac)) fail(`${field}.mac`, `${mac} is already used on ${p.network}`);
    entry.macs.add(mac);
    if (typeof p.device_id !== 'string' || p.device_id === '') fail(`${field}.device_id`, 'the instance uuid is required');
    if (typeof p.tenant_id !== 'string' || p.tenant_id === '') fail(`${field}.tenant_id`, "the instance's project id is required");
    const nic = p.nic ?? 'tap';
    if (nic !== 'tap' && nic !== 'veth') fail(`${field}.nic`, `"${String(nic)}" is not tap or veth`);
    const ip = p.fixed_ip !== undefined ? parseIPv4(p.fixed_ip).toString() : entry.alloc.next();
    if (!ip) fail(`${field}.fixed_ip`, `no address left on ${p.network}`);
    entry.network.ports.push({
      id,
      networkId: entry.network.id,
      subnetId: entry.network.subnet.id,
      mac,
      ip,
      deviceOwner: 'compute:nova',
      deviceId: p.device_id,
      tenantId: p.tenant_id,
      hostname: dhcpHostname(ip),
      nic,
    });
  });

  for (const { network } of networks) {
    const entry = byName.get(network.name)!;
    if (network.dhcpPort || network.routerPort) continue;
    const ip = entry.alloc.next();
    if (!ip) fail(`networks[${networks.findIndex((n) => n.network === network)}].subnet.cidr`, 'no address left for the probe port');
    network.probePort = servicePort(network, derivedUuid('probe-port', network.name), ip, 'network:probe', `probe-${network.id}`);
  }

  const routers: PlannedRouter[] = [];
  for (const [name, id] of routerIds) {
    const attached = networks.filter((n) => n.network.routerId === id);
    if (attached.length === 0) continue;
    // neutron: "Cidr … of subnet … overlaps with cidr … of subnet …" when adding the interface.
    attached.forEach((a, i) =>
      attached.slice(i + 1).forEach((b) => {
        if (netsOverlap(a.net, b.net)) fail(`networks[${networks.indexOf(b)}].router`, `${b.net.cidr} overlaps ${a.net.cidr} of ${a.network.name} on router ${name}`);
      }),
    );
    routers.push({ id, name, networkIds: attached.map((a) => a.network.id) });
  }

  for (const { network } of networks) {
    const s = network.subnet;
    for (const r of s.hostRoutes) {
      if (!netContains(parseNet(s.cidr), r.nexthop)) notes.push(`${network.name}: host route ${r.destination} via ${r.nexthop}: the next hop is outside ${s.cidr}`);
    }
    const dhcpMeta = network.metadata === 'dhcp-agent' || network.metadata === 'both';
    const l3Meta = network.metadata === 'l3-agent' || network.metadata === 'both';
    if (dhcpMeta && !network.dhcpPort) notes.push(`${network.name}: metadata ${network.metadata}: DHCP is disabled, and neutron's dhcp-agent serves no network without a DHCP-enabled subnet, so no DHCP namespace proxy`);
    if (l3Meta && !network.routerId) notes.push(`${network.name}: metadata ${network.metadata}: not attached to a router, so no router namespace proxy`);
    if (network.metadata !== 'none' && !(dhcpMeta && network.dhcpPort) && !(l3Meta && network.routerId)) notes.push(`${network.name}: nothing answers 169.254.169.254 on this network`);
  }

  return { networks: networks.map((n) => n.network), routers, notes };
}

/**
 * Which proxy answers a guest's 169.254.169.254 on this network: the DHCP namespace's when the
 * dhcp-agent serves metadata there (it needs a DHCP port), else the router namespace's when the
 * l3-agent does and a router is attached; none otherwise. When both serve, DHCP's host route is
 * more specific than the default route, so the DHCP namespace wins.
 */
export function metadataServedBy(network: PlannedNetwork): 'dhcp' | 'router' | undefined {
  const viaDhcp = network.metadata === 'dhcp-agent' || network.metadata === 'both';
  const viaRouter = network.metadata === 'l3-agent' || network.metadata === 'both';
  if (viaDhcp && network.dhcpPort) return 'dhcp';
  if (viaRouter && network.routerId) return 'router';
  return undefined;
}

/**
 * Where the subnet's DHCP tells guests to send 169.254.169.254: to the DHCP port when the
 * dhcp-agent serves metadata (enable_isolated_metadata on a network without router, or
 * force_metadata with one), else to the gateway when a router is attached there (neutron does
 * that for every non-isolated subnet); no route otherwise.
 */
export function metadataNextHop(network: PlannedNetwork): string | undefined {
  const viaDhcp = network.metadata === 'dhcp-agent' || network.metadata === 'both';
  if (viaDhcp && network.dhcpPort) return network.dhcpPort.ip;
  if (network.routerPort && network.subnet.gatewayIp) return network.subnet.gatewayIp;
  return undefined;
}

/** Every port of the plan (router, DHCP, probe and VM ports). */
export function allPorts(plan: TopologyPlan): PlannedPort[] {
  return plan.networks.flatMap((n) => [n.routerPort, n.dhcpPort, n.probePort, ...n.ports].filter((p): p is PlannedPort => p !== undefined));
}

export function findPort(plan: TopologyPlan, id: string): PlannedPort | undefined {
  return allPorts(plan).find((p) => p.id === id);
}
