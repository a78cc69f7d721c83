import ipaddr from 'ipaddr.js';
import { netContains, parseNet } from '../../util/ipv4-net.ts';
import type { DeviceOwner, TopologyPlan } from '../../model/topology.ts';
import { allPorts } from '../../model/topology.ts';

/**
 * How neutron's metadata agent finds the instance behind a proxied request
 * (neutron/agent/metadata/agent.py, proxy_base.py): the proxy says which router or network the
 * request came through; router → the networks of its interfaces; then the port on those
 * networks holding the X-Forwarded-For address; its device_id and tenant are the instance and
 * project that the agent signs for nova. Pure, over a small copy of neutron's database.
 */

export interface DbPort {
  id: string;
  networkId: string;
  ip: string;
  deviceOwner: DeviceOwner;
  deviceId: string;
  tenantId: string;
}

export interface NeutronDb {
  networks: { id: string; name: string; subnets: { id: string; cidr: string }[] }[];
  routers: { id: string; networkIds: string[] }[];
  ports: DbPort[];
}

export function neutronDb(plan: TopologyPlan): NeutronDb {
  return {
    networks: plan.networks.map((n) => ({ id: n.id, name: n.name, subnets: [{ id: n.subnet.id, cidr: n.subnet.cidr }] })),
    routers: plan.routers.map((r) => ({ id: r.id, networkIds: [...r.networkIds] })),
    ports: allPorts(plan).map((p) => ({ id: p.id, networkId: p.networkId, ip: p.ip, deviceOwner: p.deviceOwner, deviceId: p.deviceId, tenantId: p.tenantId })),
  };
}

/** The proxy's headers, as received (undefined when absent). */
export interface ProxyHeaders {
  routerId?: string;
  networkId?: string;
  forwardedFor?: string;
}

/** Which namespace's proxy the request came by: qrouter (l3-agent) or qdhcp (dhcp-agent). */
export type Via = 'router' | 'dhcp';

export type LookupResult =
  | { ok: true; via: Via; resourceId: string; remoteIp: string; port: DbPort; instanceId: string; tenantId: string }
  | { ok: false; status: 400 | 404; via?: Via; resourceId?: string; remoteIp?: string; reason: string };

/**
 * The client address: the last X-Forwarded-For entry (the one haproxy appended); an
 * IPv4-mapped IPv6 address becomes IPv4, as neutron does for a dual-stack haproxy.
 */
export function remoteAddress(forwardedFor: string): string | undefined {
  const last = forwardedFor.split(',').pop()?.trim() ?? '';
  if (!ipaddr.isValid(last)) return undefined;
  return ipaddr.process(last).toString();
}

export function lookupInstance(db: NeutronDb, headers: ProxyHeaders): LookupResult {
  const { routerId, networkId, forwardedFor } = headers;
  if (routerId !== undefined && networkId !== undefined) {
    // neutron drops such a request: one of the two may be spoofed.
    return { ok: false, status: 400, reason: 'both X-Neutron-Router-ID and X-Neutron-Network-ID are set; a proxy sends one' };
  }
  if (routerId === undefined && networkId === undefined) return { ok: false, status: 400, reason: 'neither X-Neutron-Router-ID nor X-Neutron-Network-ID is set' };
  const via: Via = routerId !== undefined ? 'router' : 'dhcp';
  const resourceId = (routerId ?? networkId)!;
  if (forwardedFor === undefined) return { ok: false, status: 400, via, resourceId, reason: 'X-Forwarded-For is missing' };
  const remoteIp = remoteAddress(forwardedFor);
  if (!remoteIp) return { ok: false, status: 400, via, resourceId, reason: `X-Forwarded-For "${forwardedFor}" is not an IP address` };
  const base = { via, resourceId, remoteIp };

  let networkIds: string[];
  if (routerId !== undefined) {
    const router = db.routers.find((r) => r.id === routerId);
    if (!router) return { ok: false, status: 404, ...base, reason: `no router ${routerId}` };
    networkIds = router.networkIds;
  } else {
    if (!db.networks.some((n) => n.id === networkId)) return { ok: false, status: 404, ...base, reason: `no network ${networkId}` };
    networkIds = [networkId!];
  }
  const where = routerId !== undefined ? `the networks of router ${routerId}` : `network ${networkId}`;
  const networks = db.networks.filter((n) => networkIds.includes(n.id));
  const inSubnet = networks.some((n) => n.subnets.some((s) => netContains(parseNet(s.cidr), remoteIp)));
  if (!inSubnet) return { ok: false, status: 404, ...base, reason: `${remoteIp} is in no subnet of ${where}` };
  const ports = db.ports.filter((p) => networkIds.includes(p.networkId) && p.ip === remoteIp);
  if (ports.length === 0) return { ok: false, status: 404, ...base, reason: `no port has ${remoteIp} on ${where}` };
  if (ports.length > 1) return { ok: false, status: 404, ...base, reason: `${ports.length} ports have ${remoteIp} on ${where} (${ports.map((p) => p.id).join(', ')})` };
  const port = ports[0]!;
  if (port.deviceOwner !== 'compute:nova') return { ok: false, status: 404, ...base, reason: `${remoteIp} is port ${port.id} of ${port.deviceOwner}, not an instance` };
  return { ok: true, ...base, port, instanceId: port.deviceId, tenantId: port.tenantId };
}
