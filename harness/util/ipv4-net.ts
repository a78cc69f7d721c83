import ipaddr from 'ipaddr.js';

/**
 * IPv4 arithmetic on top of ipaddr.js (parsing, masks, network/broadcast addresses); the one
 * thing it lacks is "the n-th address of a range", done here through its byte arrays.
 */

export type IPv4 = ipaddr.IPv4;

export function isIPv4(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text);
}

export function parseIPv4(text: string): IPv4 {
  return ipaddr.IPv4.parse(text);
}

export function isIPv4Cidr(text: string): boolean {
  return ipaddr.IPv4.isValidCIDRFourPartDecimal(text);
}

export function toInt(ip: IPv4): number {
  return ip.toByteArray().reduce((n, b) => n * 256 + b, 0);
}

export function fromInt(n: number): IPv4 {
  return ipaddr.fromByteArray([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]) as IPv4;
}

export interface Ipv4Net {
  /** Normalised `a.b.c.d/len`. */
  cidr: string;
  network: IPv4;
  broadcast: IPv4;
  prefixLength: number;
  netmask: string;
}

export function parseNet(cidr: string): Ipv4Net {
  const [addr, prefixLength] = ipaddr.IPv4.parseCIDR(cidr);
  const network = ipaddr.IPv4.networkAddressFromCIDR(cidr);
  return {
    cidr: `${network.toString()}/${prefixLength}`,
    network,
    broadcast: ipaddr.IPv4.broadcastAddressFromCIDR(`${addr.toString()}/${prefixLength}`),
    prefixLength,
    netmask: ipaddr.IPv4.subnetMaskFromPrefixLength(prefixLength).toString(),
  };
}

export function netContains(net: Ipv4Net, ip: string): boolean {
  return isIPv4(ip) && parseIPv4(ip).match(net.network, net.prefixLength);
}

/** True when the address is neither the network nor the broadcast address of `net`. */
export function isHostAddress(net: Ipv4Net, ip: string): boolean {
  if (!netContains(net, ip)) return false;
  const n = toInt(parseIPv4(ip));
  return n !== toInt(net.network) && n !== toInt(net.broadcast);
}

export function netsOverlap(a: Ipv4Net, b: Ipv4Net): boolean {
  return a.network.match(b.network, Math.min(a.prefixLength, b.prefixLength));
}
