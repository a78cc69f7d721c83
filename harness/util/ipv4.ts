import ipaddr from 'ipaddr.js';

/**
 * The one place that does IPv4 arithmetic, on top of ipaddr.js. Only the plain dotted-quad form
 * is accepted (`10.0.2.15`, not `10.2.15`, `0xa.0.2.15` or `010.0.2.15`, which ipaddr.js and
 * inet_aton would read as something else): these strings go into QEMU's argv, network_data.json
 * and the guest's config, and must mean the same to every reader.
 */

/** An IPv4 address with a prefix length, e.g. 10.0.2.50/24 → { address: '10.0.2.50', prefix: 24 }. */
export interface Cidr {
  address: string;
  prefix: number;
}

const { IPv4 } = ipaddr;

/** True for a dotted-quad IPv4 address: four decimal octets 0–255. */
export function isValidAddress(text: string): boolean {
  return IPv4.isValidFourPartDecimal(text);
}

/** True for `address/prefix` with a dotted-quad address and a prefix 0–32. */
export function isValidCidr(text: string): boolean {
  // ipaddr.js accepts a prefix written `/024`; nobody means that.
  return IPv4.isValidCIDRFourPartDecimal(text) && /\/(0|[1-9]\d?)$/.test(text);
}

function parseAddress(text: string): ipaddr.IPv4 {
  if (!isValidAddress(text)) throw new Error(`not an IPv4 address: ${text}`);
  return IPv4.parse(text);
}

export function parseCidr(text: string): Cidr {
  if (!isValidCidr(text)) throw new Error(`not an IPv4 CIDR: ${text}`);
  const [address, prefix] = IPv4.parseCIDR(text);
  return { address: address.toString(), prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${cidr.address}/${cidr.prefix}`;
}

/** The address part of a CIDR: 10.0.2.50/24 → 10.0.2.50. */
export function addressOf(cidr: string): string {
  return parseCidr(cidr).address;
}

/** Prefix length → dotted netmask: 24 → 255.255.255.0, 0 → 0.0.0.0. */
export function netmaskOf(prefix: number): string {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new Error(`not an IPv4 prefix length: ${prefix}`);
  return IPv4.subnetMaskFromPrefixLength(prefix).toString();
}

/** Dotted netmask → prefix length (255.255.255.0 → 24); undefined unless it is a valid, contiguous mask. */
export function prefixOfNetmask(mask: string): number | undefined {
  if (!isValidAddress(mask)) return undefined;
  return IPv4.parse(mask).prefixLengthFromSubnetMask() ?? undefined;
}

/** The network (CIDR) an address with prefix belongs to: 10.0.2.50/24 → 10.0.2.0/24. */
export function networkOf(cidr: string): string {
  const { prefix } = parseCidr(cidr);
  return formatCidr({ address: IPv4.networkAddressFromCIDR(cidr).toString(), prefix });
}

/** Whether `address` lies inside the network `net` (CIDR; its host bits are ignored). */
export function contains(net: string, address: string): boolean {
  const { address: base, prefix } = parseCidr(net);
  return parseAddress(address).match(IPv4.parse(base), prefix);
}

/** The address `n` after the network address of `net`: offset('10.0.2.0/24', 15) → 10.0.2.15. */
export function offset(net: string, n: number): string {
  const start = IPv4.networkAddressFromCIDR(formatCidr(parseCidr(net))).toByteArray();
  // ipaddr.js has no addition: add on the 32-bit number, and let ipaddr.js read that number back
  // (it parses a lone decimal as the whole address, as inet_aton does).
  const value = start.reduce((acc, octet) => acc * 256 + octet, 0) + n;
  if (!Number.isInteger(n) || value < 0 || value > 0xffffffff) throw new Error(`${net} + ${n} is outside IPv4`);
  return IPv4.parse(String(value)).toString();
}
