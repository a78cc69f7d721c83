import type { Nic } from '../model/instance.ts';
import type { MetadataPathExpectation } from '../model/expectations.ts';
import { metadataNextHop, metadataServedBy, planTopology, type PortSpec, type TopologyPlan, type TopologySpec } from '../model/topology.ts';
import { UserError } from '../util/errors.ts';
import type { NetworkLayout } from './case-schema.ts';
import { NIC_MACS } from './network-modes.ts';

/**
 * A case's neutron layout → the cell's topology (networks, routers, this instance's ports) and
 * the instance's NICs as nova describes them to the guest: each port's fixed IP, its subnet's
 * gateway, host routes and DNS servers, the network's MTU, and the port and network ids — which
 * network_data.json then renders (`ipv4_dhcp` on a DHCP subnet, `ipv4` with routes otherwise).
 */

/** The name `router: true` stands for. */
export const DEFAULT_ROUTER = 'router1';

/** The n-th NIC's MAC: the shorthand modes' MACs first, then more of the same QEMU prefix. */
export function layoutMac(index: number): string {
  return NIC_MACS[index] ?? `52:54:00:12:35:${(index & 0xff).toString(16).padStart(2, '0')}`;
}

export function topologySpec(layout: NetworkLayout, instance: { uuid: string; project_id: string }): TopologySpec {
  const ports: PortSpec[] = layout.nics.map((nic, i) => {
    const n = typeof nic === 'string' ? { network: nic } : nic;
    return {
      network: n.network,
      mac: n.mac ?? layoutMac(i),
      ...(n.fixed_ip !== undefined ? { fixed_ip: n.fixed_ip } : {}),
      device_id: instance.uuid,
      tenant_id: instance.project_id,
      nic: 'tap',
    };
  });
  return {
    networks: layout.networks.map((n) => {
      const router = n.router === true ? DEFAULT_ROUTER : n.router === false ? undefined : n.router;
      return {
        name: n.name,
        ...(n.mtu !== undefined ? { mtu: n.mtu } : {}),
        ...(router !== undefined ? { router } : {}),
        metadata: n.metadata,
        subnet: {
          cidr: n.subnet.cidr,
          ...(n.subnet.gateway_ip !== undefined ? { gateway_ip: n.subnet.gateway_ip } : {}),
          enable_dhcp: n.subnet.enable_dhcp,
          dns_nameservers: n.subnet.dns_nameservers,
          host_routes: n.subnet.host_routes,
        },
      };
    }),
    ports,
  };
}

/**
 * planTopology's errors name `networks[i]…` / `ports[i]…` of the spec; the spec keeps the
 * layout's order (ports are its nics), so they map back onto the case file's fields.
 */
function layoutPath(field: string): (string | number)[] {
  const m = /^(networks|ports)\[(\d+)\]((?:\.[a-z_]+|\[\d+\])*)$/.exec(field);
  if (!m) return [];
  const rest = [...(m[3] ?? '').matchAll(/\.([a-z_]+)|\[(\d+)\]/g)].map((x) => (x[1] !== undefined ? x[1] : Number(x[2])));
  return [m[1] === 'ports' ? 'nics' : 'networks', Number(m[2]), ...rest];
}

export interface PlannedLayout {
  topology: TopologySpec;
  plan: TopologyPlan;
  nics: Nic[];
  /** The proxy a metadata-service guest's requests must come by, when one serves NIC 1's network. */
  metadataPath?: MetadataPathExpectation;
}

/**
 * Plans a layout for one instance. Bad input (an address outside its subnet, a router on a subnet
 * without gateway…) is a UserError at the layout field's `file:line:col`.
 */
export function planLayout(layout: NetworkLayout, instance: { uuid: string; project_id: string }, locate: (path: (string | number)[]) => string): PlannedLayout {
  const topology = topologySpec(layout, instance);
  let plan: TopologyPlan;
  try {
    plan = planTopology(topology);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    const m = /^([^:]+): (.*)$/s.exec(err.message);
    const field = m?.[1] ?? '';
    throw new UserError(`${locate(layoutPath(field))}: network layout ${layout.label}: ${layoutFieldName(field)}: ${m?.[2] ?? err.message}`);
  }
  const nics: Nic[] = topology.ports.map((spec) => {
    const net = plan.networks.find((n) => n.name === spec.network)!;
    // planTopology keeps the ports in order on each network; the i-th spec port is the one with its MAC.
    const port = net.ports.find((p) => p.mac === spec.mac.toLowerCase())!;
    const s = net.subnet;
    const nic: Nic = {
      mac: port.mac,
      mode: s.enableDhcp ? 'dhcp' : 'static',
      address: `${port.ip}/${s.prefixLength}`,
      dns: [...s.dnsNameservers],
      port_id: port.id,
      network_id: net.id,
      ...(s.gatewayIp ? { gateway: s.gatewayIp } : {}),
      ...(net.mtu !== undefined ? { mtu: net.mtu } : {}),
      ...(s.hostRoutes.length > 0 ? { routes: s.hostRoutes.map((r) => ({ destination: r.destination, nexthop: r.nexthop })) } : {}),
    };
    return nic;
  });
  const first = plan.networks.find((n) => n.name === topology.ports[0]!.network)!;
  const via = metadataServedBy(first);
  const nextHop = metadataNextHop(first) ?? first.subnet.gatewayIp ?? undefined;
  return {
    topology,
    plan,
    nics,
    ...(via && nextHop ? { metadataPath: { via, nextHop } } : {}),
  };
}

function layoutFieldName(field: string): string {
  const path = layoutPath(field);
  if (path.length === 0) return field || 'layout';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
