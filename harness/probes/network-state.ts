import { parse as parseYamlText } from 'yaml';
import { prefixOfNetmask } from '../util/ipv4.ts';

/**
 * Pure parsers for what the NIC probes read from the guest: cloud-init's rendered network config
 * (ENI or netplan), `ip -j addr` / `ip -j route` — or, where `ip` has no JSON (BusyBox's, as
 * on Cirros), their text forms and /proc/net/route — and DHCP lease files.
 */

export interface RenderedNic {
  /** static / dhcp, or whatever else the config says (manual, loopback…). */
  method: string;
  /** CIDR form. */
  addresses: string[];
  gateway?: string;
}

export interface LiveIface {
  ifname: string;
  ifindex: number;
  mac: string;
  inet: { cidr: string; dynamic: boolean }[];
}

export interface DefaultRoute {
  gateway?: string;
  dev?: string;
}

export interface Lease {
  file: string;
  iface?: string;
  ifindex?: number;
  addresses: string[];
  /** A running DHCP client instead of a file: its command line (`udhcpc -i eth0 …`). */
  client?: string;
}

/**
 * ENI's `address` + `netmask` as one CIDR. ifupdown takes the netmask as a dotted quad or as a
 * number of bits; anything else stays as written (`10.0.0.5/255.0.255.0`), so the NIC check
 * shows it instead of matching by accident.
 */
function withPrefix(address: string, netmask: string): string {
  const bits = /^\d{1,2}$/.test(netmask) && Number(netmask) <= 32 ? Number(netmask) : undefined;
  return `${address}/${bits ?? prefixOfNetmask(netmask) ?? netmask}`;
}

/** `/etc/network/interfaces.d/50-cloud-init` → per interface name. */
export function parseEni(text: string): Map<string, RenderedNic> {
  const out = new Map<string, RenderedNic>();
  let current: (RenderedNic & { netmask?: string; bare?: string }) | undefined;
  const finish = () => {
    if (current?.bare) current.addresses.push(current.netmask ? withPrefix(current.bare, current.netmask) : current.bare);
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [word, ...rest] = line.split(/\s+/);
    if (word === 'iface') {
      finish();
      const [name, family, method] = rest;
      if (family === 'inet' && name) {
        current = { method: method ?? 'unknown', addresses: [] };
        out.set(name, current);
      } else current = undefined;
      continue;
    }
    if (['auto', 'allow-hotplug', 'source', 'mapping'].includes(word ?? '')) {
      finish();
      current = undefined;
      continue;
    }
    if (!current) continue;
    if (word === 'address' && rest[0]) {
      if (rest[0].includes('/')) current.addresses.push(rest[0]);
      else current.bare = rest[0];
    } else if (word === 'netmask' && rest[0]) current.netmask = rest[0];
    else if (word === 'gateway' && rest[0]) current.gateway = rest[0];
    else if (word === 'post-up') {
      // cloud-init's ENI renderer: `post-up route add default gw 10.0.2.2 || true`
      const m = /route add default gw (\S+)/.exec(line) ?? /ip route add default via (\S+)/.exec(line);
      if (m) current.gateway ??= m[1];
    }
  }
  finish();
  for (const nic of out.values()) {
    delete (nic as { bare?: string }).bare;
    delete (nic as { netmask?: string }).netmask;
  }
  return out;
}

interface NetplanEthernet {
  match?: { macaddress?: string; name?: string };
  'set-name'?: string;
  dhcp4?: boolean | string;
  addresses?: string[];
  gateway4?: string;
  routes?: { to?: string; via?: string }[];
}

/** `/etc/netplan/50-cloud-init.yaml` → entries keyed by interface name (set-name or key), with their MAC. */
export function parseNetplan(text: string): Map<string, RenderedNic & { mac?: string }> {
  const doc = (parseYamlText(text) ?? {}) as { network?: { ethernets?: Record<string, NetplanEthernet> } };
  const out = new Map<string, RenderedNic & { mac?: string }>();
  for (const [key, eth] of Object.entries(doc.network?.ethernets ?? {})) {
    const dhcp = eth.dhcp4 === true || eth.dhcp4 === 'true' || eth.dhcp4 === 'yes';
    const addresses = (eth.addresses ?? []).filter((a) => !a.includes(':'));
    const gw = eth.gateway4 ?? eth.routes?.find((r) => r.to === '0.0.0.0/0' || r.to === 'default')?.via;
    out.set(eth['set-name'] ?? key, {
      method: dhcp ? 'dhcp' : addresses.length ? 'static' : 'none',
      addresses,
      ...(gw ? { gateway: gw } : {}),
      ...(eth.match?.macaddress ? { mac: eth.match.macaddress.toLowerCase() } : {}),
    });
  }
  return out;
}

/** `ip -j addr show`. */
export function parseIpAddr(json: string): LiveIface[] {
  const list = JSON.parse(json) as { ifname: string; ifindex: number; address?: string; addr_info?: { family: string; local: string; prefixlen: number; dynamic?: boolean }[] }[];
  return list.map((i) => ({
    ifname: i.ifname,
    ifindex: i.ifindex,
    mac: (i.address ?? '').toLowerCase(),
    inet: (i.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => ({ cidr: `${a.local}/${a.prefixlen}`, dynamic: a.dynamic === true })),
  }));
}

/**
 * `ip addr show` as text, in iproute2's and BusyBox's shared layout: `2: eth0: <…> mtu …` opens
 * an interface (`eth0@if5` for a veth), `link/ether MAC` gives its MAC, `inet CIDR … [dynamic]`
 * its IPv4 addresses. BusyBox never prints `dynamic`: its DHCP client sets plain addresses.
 */
export function parseIpAddrText(text: string): LiveIface[] {
  const out: LiveIface[] = [];
  let current: LiveIface | undefined;
  for (const line of text.split('\n')) {
    const head = /^(\d+):\s+([^:@\s]+)(?:@[^:\s]+)?:/.exec(line);
    if (head) {
      current = { ifname: head[2]!, ifindex: Number(head[1]), mac: '', inet: [] };
      out.push(current);
      continue;
    }
    if (!current) continue;
    const link = /^\s+link\/\w+\s+([0-9a-fA-F:]{17})/.exec(line);
    if (link) current.mac = link[1]!.toLowerCase();
    const inet = /^\s+inet\s+(\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?)\b(.*)$/.exec(line);
    if (inet) current.inet.push({ cidr: inet[1]!.includes('/') ? inet[1]! : `${inet[1]}/32`, dynamic: /\bdynamic\b/.test(inet[2]!) });
  }
  return out;
}

/** Default routes from `ip route show` as text: `default via 10.0.2.2 dev eth0 …` (or `dev eth0` only). */
export function parseDefaultRoutesText(text: string): DefaultRoute[] {
  const routes: DefaultRoute[] = [];
  for (const line of text.split('\n')) {
    if (!/^(default|0\.0\.0\.0(\/0)?)\s/.test(line.trim())) continue;
    const via = /\bvia\s+(\S+)/.exec(line)?.[1];
    const dev = /\bdev\s+(\S+)/.exec(line)?.[1];
    routes.push({ ...(via ? { gateway: via } : {}), ...(dev ? { dev } : {}) });
  }
  return routes;
}

/** Default routes from /proc/net/route (addresses in little-endian hex), where `ip` is missing. */
export function parseProcNetRoute(text: string): DefaultRoute[] {
  const hexIp = (h: string) => [6, 4, 2, 0].map((i) => parseInt(h.slice(i, i + 2), 16)).join('.');
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 8 && f[1] === '00000000' && f[7] === '00000000')
    .map(([dev, , gw]) => ({ ...(gw && gw !== '00000000' ? { gateway: hexIp(gw) } : {}), ...(dev ? { dev } : {}) }));
}

/** Default routes from `ip -j route show`. */
export function parseDefaultRoutes(json: string): DefaultRoute[] {
  const list = JSON.parse(json) as { dst: string; gateway?: string; dev?: string }[];
  return list.filter((r) => r.dst === 'default').map((r) => ({ ...(r.gateway ? { gateway: r.gateway } : {}), ...(r.dev ? { dev: r.dev } : {}) }));
}

/**
 * Lease files as dumped by `for f in …; do echo "==> $f"; cat "$f"; done`: dhclient's
 * (/var/lib/dhcp/dhclient.IFACE.leases, `interface "eth0"; fixed-address …;`) and networkd's
 * (/run/systemd/netif/leases/IFINDEX, `ADDRESS=…`); `==> dhcp-client PID` sections are running
 * DHCP clients with their command lines.
 */
export function parseLeases(dump: string): Lease[] {
  const leases: Lease[] = [];
  const parts = dump.split(/^==> (.+)$/m);
  for (let i = 1; i < parts.length; i += 2) {
    const file = parts[i]!.trim();
    const body = parts[i + 1] ?? '';
    if (file.startsWith('dhcp-client ')) {
      const cmd = body.trim();
      // udhcpc -i IFACE / --interface=IFACE; dhclient and dhcpcd take the interface last.
      const iface = /(?:^|\s)(?:-i\s*|--interface[= ])(\S+)/.exec(cmd)?.[1] ?? (/dhclient|dhcpcd/.test(cmd) ? cmd.split(/\s+/).pop() : undefined);
      leases.push({ file, ...(iface ? { iface } : {}), addresses: [], client: cmd });
      continue;
    }
    const addresses = new Set<string>();
    for (const m of body.matchAll(/fixed-address\s+([\d.]+);/g)) addresses.add(m[1]!);
    for (const m of body.matchAll(/^ADDRESS=([\d.]+)/gm)) addresses.add(m[1]!);
    const iface = /interface\s+"([^"]+)"/.exec(body)?.[1] ?? /dhclient\.(.+)\.leases$/.exec(file)?.[1];
    const idx = /\/netif\/leases\/(\d+)$/.exec(file)?.[1];
    leases.push({ file, ...(iface ? { iface } : {}), ...(idx ? { ifindex: Number(idx) } : {}), addresses: [...addresses] });
  }
  return leases;
}

export function sameCidr(a: string, b: string): boolean {
  return a.trim() === b.trim();
}
