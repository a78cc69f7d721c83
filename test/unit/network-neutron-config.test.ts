import { describe, expect, it } from 'vitest';
import { lookupInstance, type AgentTopology } from '../../harness/network/neutron/agent.ts';
import { dnsmasqConfig } from '../../harness/network/neutron/dnsmasq.ts';
import { haproxyConfig } from '../../harness/network/neutron/haproxy.ts';
import type { NeutronNetwork, Port } from '../../harness/network/neutron/model.ts';
import { ownerOf } from '../../harness/network/neutron/names.ts';

const net = (over: Partial<NeutronNetwork> = {}, subnet: Partial<NeutronNetwork['subnet']> = {}): NeutronNetwork => ({
  id: 'net-1',
  routerId: 'router-1',
  routerAttached: true,
  metadata: 'dhcp-agent',
  dhcpIp: '172.16.11.2',
  subnet: { cidr: '172.16.11.0/24', gatewayIp: '172.16.11.1', enableDhcp: true, dnsNameservers: [], hostRoutes: [], ...subnet },
  ...over,
});
const port: Port = { id: 'p1', mac: '52:54:00:12:34:56', ip: '172.16.11.26', hostname: 'host-172-16-11-26', instanceId: 'uuid-1', tenantId: 'proj' };
const files = { interface: 'ns-dhcp', pidFile: '/w/d.pid', logFile: '/w/d.log', leaseFile: '/w/d.leases' };

describe('dnsmasq configuration (as the dhcp-agent writes it)', () => {
  it('reserves each port, hands out the router, and for dhcp-agent metadata routes 169.254.169.254 via the DHCP port with the default route repeated', () => {
    const c = dnsmasqConfig(net(), [port], files).split('\n');
    expect(c).toContain('dhcp-range=set:subnet0,172.16.11.0,static,255.255.255.0,86400s');
    expect(c).toContain('dhcp-host=52:54:00:12:34:56,172.16.11.26,host-172-16-11-26');
    expect(c).toContain('dhcp-option=tag:subnet0,option:router,172.16.11.1');
    expect(c).toContain('dhcp-option=tag:subnet0,option:classless-static-route,169.254.169.254/32,172.16.11.2,0.0.0.0/0,172.16.11.1');
    expect(c).toContain('interface=ns-dhcp');
    expect(c).toContain('no-resolv');
  });

  it('the l3-agent path pushes no metadata route; host routes, DNS and MTU go out as options', () => {
    const c = dnsmasqConfig(net({ metadata: 'l3-agent' }, { hostRoutes: [{ destination: '10.9.0.0/16', nexthop: '172.16.11.5' }], dnsNameservers: ['172.16.11.3'], mtu: 1450 }), [port], files);
    expect(c).not.toContain('169.254.169.254');
    expect(c).toContain('option:classless-static-route,10.9.0.0/16,172.16.11.5,0.0.0.0/0,172.16.11.1\n');
    expect(c).toContain('option:dns-server,172.16.11.3\n');
    expect(c).toContain('option:mtu,1450\n');
  });
});

describe('haproxy configuration (the metadata proxy)', () => {
  it('router namespace: :9697 with X-Neutron-Router-ID; DHCP namespace: 169.254.169.254:80 with X-Neutron-Network-ID; both to the agent socket with X-Forwarded-For', () => {
    const r = haproxyConfig({ kind: 'router', routerId: 'router-1' }, '/w/agent.sock', '/w/h.pid');
    expect(r).toContain('bind 0.0.0.0:9697');
    expect(r).toContain('http-request set-header X-Neutron-Router-ID router-1');
    expect(r).toContain('server metadata unix@/w/agent.sock');
    expect(r).toContain('option forwardfor');
    const d = haproxyConfig({ kind: 'dhcp', networkId: 'net-1' }, '/w/agent.sock', '/w/h.pid');
    expect(d).toContain('bind 169.254.169.254:80');
    expect(d).toContain('http-request set-header X-Neutron-Network-ID net-1');
    // A guest cannot pick its own identity headers.
    expect(d).toContain('http-request del-header X-Neutron-Router-ID');
  });
});

describe('metadata agent lookup', () => {
  const topology: AgentTopology = {
    networks: [net(), net({ id: 'net-2', routerAttached: false }, { cidr: '10.5.0.0/24', gatewayIp: '10.5.0.1' })],
    ports: [
      { networkId: 'net-1', port },
      { networkId: 'net-2', port: { ...port, id: 'p2', ip: '10.5.0.7', instanceId: 'uuid-2' } },
    ],
  };
  it('router → its attached subnets → source IP → port → instance; network → its subnet likewise', () => {
    const viaRouter = lookupInstance({ 'x-forwarded-for': '172.16.11.26', 'x-neutron-router-id': 'router-1' }, topology);
    expect(viaRouter).toMatchObject({ ok: true, via: 'router', port: { instanceId: 'uuid-1' } });
    const viaDhcp = lookupInstance({ 'x-forwarded-for': '10.5.0.7, 10.5.0.2', 'x-neutron-network-id': 'net-2' }, topology);
    expect(viaDhcp).toMatchObject({ ok: true, via: 'dhcp', port: { instanceId: 'uuid-2' } });
  });
  it('an address with no port → 404; a router whose subnet is not attached → 404; no headers → 400', () => {
    expect(lookupInstance({ 'x-forwarded-for': '172.16.11.99', 'x-neutron-network-id': 'net-1' }, topology)).toMatchObject({ ok: false, status: 404 });
    expect(lookupInstance({ 'x-forwarded-for': '10.5.0.7', 'x-neutron-router-id': 'router-1' }, topology)).toMatchObject({ ok: false, status: 404 });
    expect(lookupInstance({ 'x-neutron-network-id': 'net-1' }, topology)).toMatchObject({ ok: false, status: 400 });
    expect(lookupInstance({ 'x-forwarded-for': '172.16.11.26' }, topology)).toMatchObject({ ok: false, status: 400 });
  });
});

describe('namespace names', () => {
  it('carry the owner pid so a later run can sweep a dead run’s namespaces, and nothing else is ours', () => {
    expect(ownerOf('cpn-4242-3-seg')).toBe(4242);
    expect(ownerOf('cpn-4242-3-dhcp')).toBe(4242);
    expect(ownerOf('qrouter-1234')).toBeUndefined();
    expect(ownerOf('cpn-x-3-seg')).toBeUndefined();
  });
});
