import { netmaskOf, parseCidr } from '../../util/ipv4.ts';
import { METADATA_IP, servesViaDhcp, type NeutronNetwork, type Port } from './model.ts';

export interface DnsmasqFiles {
  interface: string;
  pidFile: string;
  logFile: string;
  leaseFile: string;
}

/**
 * dnsmasq's configuration as neutron's dhcp-agent writes it: static reservations only (one
 * `dhcp-host` per port), router and DNS options, the MTU, and — when the dhcp-agent serves
 * metadata — a classless static route (option 121) to 169.254.169.254 via the DHCP port. A client
 * that gets option 121 ignores option 3 (RFC 3442), so the default route is repeated in 121.
 */
export function dnsmasqConfig(net: NeutronNetwork, ports: readonly Port[], files: DnsmasqFiles): string {
  const { address, prefix } = parseCidr(net.subnet.cidr);
  const tag = 'subnet0';
  const lines = [
    'no-resolv',
    'no-hosts',
    'bind-interfaces',
    `interface=${files.interface}`,
    'except-interface=lo',
    `pid-file=${files.pidFile}`,
    `dhcp-leasefile=${files.leaseFile}`,
    'log-dhcp',
    `log-facility=${files.logFile}`,
    'port=0',
    `dhcp-range=set:${tag},${address},static,${netmaskOf(prefix)},86400s`,
    ...ports.map((p) => `dhcp-host=${p.mac},${p.ip},${p.hostname}`),
    `dhcp-option=tag:${tag},option:router,${net.subnet.gatewayIp}`,
  ];
  if (net.subnet.dnsNameservers.length) lines.push(`dhcp-option=tag:${tag},option:dns-server,${net.subnet.dnsNameservers.join(',')}`);
  if (net.subnet.mtu !== undefined) lines.push(`dhcp-option=tag:${tag},option:mtu,${net.subnet.mtu}`);
  const routes: string[] = [];
  if (servesViaDhcp(net)) routes.push(`${METADATA_IP}/32`, net.dhcpIp);
  for (const r of net.subnet.hostRoutes) routes.push(r.destination, r.nexthop);
  if (routes.length) lines.push(`dhcp-option=tag:${tag},option:classless-static-route,${[...routes, '0.0.0.0/0', net.subnet.gatewayIp].join(',')}`);
  return `${lines.join('\n')}\n`;
}
