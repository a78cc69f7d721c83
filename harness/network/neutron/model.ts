/**
 * A neutron network as a user describes it — one subnet, a router attached or not, the metadata
 * path — and the ports on it, each with its fixed IP. The backend builds it from real parts.
 */

export const METADATA_PATHS = ['l3-agent', 'dhcp-agent', 'both', 'none'] as const;
export type MetadataPath = (typeof METADATA_PATHS)[number];

export interface HostRoute {
  destination: string;
  nexthop: string;
}

export interface SubnetSpec {
  cidr: string;
  gatewayIp: string;
  enableDhcp: boolean;
  dnsNameservers: string[];
  hostRoutes: HostRoute[];
  /** The network's MTU; DHCP hands it out (option 26) when set. */
  mtu?: number;
}

export interface NeutronNetwork {
  id: string;
  subnet: SubnetSpec;
  /** Whether the subnet is an interface of the router (the l3-agent path needs it). */
  routerAttached: boolean;
  routerId: string;
  metadata: MetadataPath;
  /** The DHCP port's address (neutron gives the DHCP port one of the subnet's addresses). */
  dhcpIp: string;
}

export interface Port {
  id: string;
  mac: string;
  ip: string;
  /** dnsmasq's host name for the port, as neutron writes it: host-172-16-11-26. */
  hostname: string;
  instanceId: string;
  tenantId: string;
}

export const METADATA_IP = '169.254.169.254';
/** Where neutron's l3-agent proxy listens in the router namespace (iptables REDIRECT target). */
export const ROUTER_PROXY_PORT = 9697;

export const servesViaRouter = (n: NeutronNetwork) => n.routerAttached && (n.metadata === 'l3-agent' || n.metadata === 'both');
/** The dhcp-agent path needs the DHCP port, so a subnet without DHCP has none (as in neutron). */
export const servesViaDhcp = (n: NeutronNetwork) => n.subnet.enableDhcp && (n.metadata === 'dhcp-agent' || n.metadata === 'both');

export function portHostname(ip: string): string {
  return `host-${ip.replaceAll('.', '-')}`;
}
