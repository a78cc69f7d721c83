import { dhcpDeviceName } from './names.ts';
import { metadataNextHop, type PlannedHostRoute, type PlannedNetwork } from '../../model/topology.ts';

/**
 * dnsmasq's configuration for one network, as neutron's dhcp-agent writes it
 * (neutron/agent/linux/dhcp.py: Dnsmasq._build_cmdline_callback, _output_hosts_file,
 * _generate_opts_per_subnet), as one conf file instead of command line + hosts/opts files.
 * Pure, so every option is unit-tested.
 */

export const METADATA_IP = '169.254.169.254';
export const METADATA_CIDR = `${METADATA_IP}/32`;
/** neutron's dhcp_lease_duration default. */
export const DHCP_LEASE_SECONDS = 86400;
/** Microsoft's pre-RFC 3442 classless route option; neutron sends it along with 121. */
const WIN2K3_STATIC_ROUTES = 249;

export interface DnsmasqPaths {
  pidFile: string;
  leaseFile: string;
  logFile: string;
}

export function subnetTag(network: PlannedNetwork): string {
  return `subnet-${network.subnet.id}`;
}

export { metadataNextHop };

/** The default gateway DHCP announces: gateway_ip, else a host route to 0.0.0.0/0 (as neutron). */
export function announcedGateway(network: PlannedNetwork): string | undefined {
  return network.subnet.gatewayIp ?? network.subnet.hostRoutes.find((r) => r.destination === '0.0.0.0/0')?.nexthop;
}

/**
 * Option 121's routes: the subnet's host routes, the metadata route, and — whenever any route is
 * sent — the default route again, since a client that gets option 121 ignores option 3 (RFC 3442).
 */
export function classlessStaticRoutes(network: PlannedNetwork): PlannedHostRoute[] {
  const routes = network.subnet.hostRoutes.filter((r) => r.destination !== '0.0.0.0/0');
  const hop = metadataNextHop(network);
  if (hop) routes.push({ destination: METADATA_CIDR, nexthop: hop });
  const gateway = announcedGateway(network);
  if (routes.length > 0 && gateway) routes.push({ destination: '0.0.0.0/0', nexthop: gateway });
  return routes;
}

/** The `dhcp-option…=` lines for the network's subnet. */
export function dhcpOptionLines(network: PlannedNetwork): string[] {
  const tag = `tag:${subnetTag(network)}`;
  const lines: string[] = [];
  // No dns_nameservers: neutron names the DHCP port itself (dnsmasq answers DNS there).
  const dns = network.subnet.dnsNameservers.length > 0 ? network.subnet.dnsNameservers : network.dhcpPort ? [network.dhcpPort.ip] : [];
  if (dns.length > 0) lines.push(`dhcp-option=${tag},option:dns-server,${dns.join(',')}`);
  const routes = classlessStaticRoutes(network);
  if (routes.length > 0) {
    const list = routes.map((r) => `${r.destination},${r.nexthop}`).join(',');
    lines.push(`dhcp-option=${tag},option:classless-static-route,${list}`);
    lines.push(`dhcp-option=${tag},${WIN2K3_STATIC_ROUTES},${list}`);
  }
  const gateway = announcedGateway(network);
  // A bare `option:router` makes dnsmasq send no router at all (instead of its own address).
  lines.push(gateway ? `dhcp-option=${tag},option:router,${gateway}` : `dhcp-option=${tag},option:router`);
  if (network.mtu !== undefined) lines.push(`dhcp-option-force=option:mtu,${network.mtu}`);
  return lines;
}

/** The conf file; throws when the network has no DHCP port (DHCP disabled: no dnsmasq at all). */
export function dnsmasqConfig(network: PlannedNetwork, paths: DnsmasqPaths): string {
  const port = network.dhcpPort;
  if (!port || !network.subnet.enableDhcp) throw new Error(`network ${network.name}: DHCP is disabled, so there is no dnsmasq`);
  const s = network.subnet;
  const hostCount = 2 ** (32 - s.prefixLength) - 2;
  const hosts = [network.routerPort, port, ...network.ports, network.probePort].filter((p) => p !== undefined);
  return [
    `# dnsmasq for network ${network.name} (${network.id}), subnet ${s.cidr} (${s.id}),`,
    "# as neutron's dhcp-agent runs it: static leases only, one dhcp-host per port.",
    'no-resolv',
    'no-hosts',
    'strict-order',
    `interface=${dhcpDeviceName(port.id)}`,
    'bind-interfaces',
    'except-interface=lo',
    // Stay root, like neutron's rootwrapped dnsmasq: any change of uid or gid (to nobody, or to
    // Debian's default group dip) clears the parent-death signal that ties dnsmasq to the
    // harness, and the files here are root's.
    'user=root',
    'group=root',
    `pid-file=${paths.pidFile}`,
    `dhcp-leasefile=${paths.leaseFile}`,
    'log-dhcp',
    `log-facility=${paths.logFile}`,
    `dhcp-range=set:${subnetTag(network)},${s.networkAddress},static,${s.netmask},${DHCP_LEASE_SECONDS}s`,
    `dhcp-lease-max=${hostCount}`,
    ...hosts.map((p) => `dhcp-host=${p.mac},${p.ip},${p.hostname}`),
    ...dhcpOptionLines(network),
    '',
  ].join('\n');
}
