import { describe, expect, it } from 'vitest';
import { classlessStaticRoutes, dhcpOptionLines, dnsmasqConfig, metadataNextHop } from '../../harness/network/neutron/dnsmasq-config.ts';
import { haproxyConfig } from '../../harness/network/neutron/haproxy-config.ts';
import { qemuNetdevArgs, qemuNetnsPrefix } from '../../harness/network/neutron/qemu.ts';
import { planTopology, type MetadataPath, type NetworkSpec, type PlannedNetwork } from '../../harness/model/topology.ts';

const VM = '11111111-1111-4111-8111-111111111111';
const PATHS = { pidFile: '/w/dnsmasq.pid', leaseFile: '/w/dnsmasq.leases', logFile: '/w/dnsmasq.log' };

function network(over: Partial<NetworkSpec> = {}, subnet: Partial<NetworkSpec['subnet']> = {}): PlannedNetwork {
  return planTopology({
    networks: [{ name: 'private', subnet: { cidr: '172.16.11.0/24', ...subnet }, ...over }],
    ports: [{ network: 'private', mac: 'fa:16:3e:00:00:01', fixed_ip: '172.16.11.26', device_id: VM, tenant_id: 'p' }],
  }).networks[0]!;
}
const lines = (text: string) => text.split('\n');

describe('dnsmasq configuration (as the dhcp-agent runs it)', () => {
  it("has neutron's process options, a static range and one reservation per port", () => {
    const net = network({ router: 'r1' });
    const conf = lines(dnsmasqConfig(net, PATHS));
    const tag = `subnet-${net.subnet.id}`;
    for (const l of ['no-resolv', 'no-hosts', `interface=ns-${net.dhcpPort!.id.slice(0, 11)}`, 'bind-interfaces', 'except-interface=lo', 'user=root', 'group=root', 'log-dhcp', 'log-facility=/w/dnsmasq.log', 'pid-file=/w/dnsmasq.pid', 'dhcp-leasefile=/w/dnsmasq.leases']) {
      expect(conf).toContain(l);
    }
    expect(conf).toContain(`dhcp-range=set:${tag},172.16.11.0,static,255.255.255.0,86400s`);
    expect(conf).toContain('dhcp-host=fa:16:3e:00:00:01,172.16.11.26,host-172-16-11-26');
    expect(conf).toContain(`dhcp-host=${net.dhcpPort!.mac},172.16.11.2,host-172-16-11-2`);
    expect(conf).toContain(`dhcp-host=${net.routerPort!.mac},172.16.11.1,host-172-16-11-1`);
    expect(conf).toContain(`dhcp-option=tag:${tag},option:router,172.16.11.1`);
    // No dns_nameservers: the DHCP port itself.
    expect(conf).toContain(`dhcp-option=tag:${tag},option:dns-server,172.16.11.2`);
    expect(conf.filter((l) => l.includes('mtu'))).toEqual([]);
  });

  it('dhcp-agent: 169.254.169.254/32 via the DHCP port, the default route repeated (RFC 3442)', () => {
    const net = network({ metadata: 'dhcp-agent' });
    const tag = `tag:subnet-${net.subnet.id}`;
    const opts = dhcpOptionLines(net);
    expect(opts).toContain(`dhcp-option=${tag},option:classless-static-route,169.254.169.254/32,172.16.11.2,0.0.0.0/0,172.16.11.1`);
    expect(opts).toContain(`dhcp-option=${tag},249,169.254.169.254/32,172.16.11.2,0.0.0.0/0,172.16.11.1`);
    expect(opts).toContain(`dhcp-option=${tag},option:router,172.16.11.1`);
  });

  it.each<[MetadataPath, string | undefined, string | undefined]>([
    // [metadata, next hop with a router, next hop without]
    ['dhcp-agent', '172.16.11.2', '172.16.11.2'],
    ['both', '172.16.11.2', '172.16.11.2'],
    ['l3-agent', '172.16.11.1', undefined],
    ['none', '172.16.11.1', undefined],
  ])('metadata %s: the 169.254.169.254 route goes via %s with a router, %s without', (metadata, withRouter, without) => {
    expect(metadataNextHop(network({ metadata, router: 'r1' }))).toBe(withRouter);
    expect(metadataNextHop(network({ metadata }))).toBe(without);
  });

  it('l3-agent without router and without host routes: no option 121, only option 3', () => {
    const opts = dhcpOptionLines(network({ metadata: 'l3-agent' }));
    expect(opts.some((l) => l.includes('classless-static-route'))).toBe(false);
    expect(opts.some((l) => l.includes(',249,'))).toBe(false);
    expect(opts.some((l) => l.endsWith('option:router,172.16.11.1'))).toBe(true);
  });

  it('sends host routes in option 121, takes a 0.0.0.0/0 host route as the gateway when there is none', () => {
    const net = network({ metadata: 'dhcp-agent' }, { gateway_ip: null, host_routes: [{ destination: '10.20.0.0/16', nexthop: '172.16.11.254' }, { destination: '0.0.0.0/0', nexthop: '172.16.11.253' }] });
    expect(classlessStaticRoutes(net)).toEqual([
      { destination: '10.20.0.0/16', nexthop: '172.16.11.254' },
      { destination: '169.254.169.254/32', nexthop: net.dhcpPort!.ip },
      { destination: '0.0.0.0/0', nexthop: '172.16.11.253' },
    ]);
    expect(dhcpOptionLines(net).some((l) => l.endsWith('option:router,172.16.11.253'))).toBe(true);
  });

  it('no gateway at all: a bare option:router (dnsmasq then sends none) and no default in 121', () => {
    const net = network({ metadata: 'dhcp-agent' }, { gateway_ip: null });
    const opts = dhcpOptionLines(net);
    expect(opts).toContain(`dhcp-option=tag:subnet-${net.subnet.id},option:router`);
    expect(classlessStaticRoutes(net)).toEqual([{ destination: '169.254.169.254/32', nexthop: net.dhcpPort!.ip }]);
  });

  it('advertises the MTU (option 26) only when the network has one, and the given DNS servers', () => {
    const net = network({ mtu: 1400 }, { dns_nameservers: ['192.0.2.53', '192.0.2.54'] });
    const opts = dhcpOptionLines(net);
    expect(opts).toContain('dhcp-option-force=option:mtu,1400');
    expect(opts).toContain(`dhcp-option=tag:subnet-${net.subnet.id},option:dns-server,192.0.2.53,192.0.2.54`);
  });

  it('has no configuration for a DHCP-disabled subnet', () => {
    expect(() => dnsmasqConfig(network({}, { enable_dhcp: false }), PATHS)).toThrow(/DHCP is disabled, so there is no dnsmasq/);
  });
});

describe('haproxy configuration (neutron-ns-metadata-proxy)', () => {
  it('router: listens on 9697, sets X-Neutron-Router-ID, drops the network header, forwards to the unix socket', () => {
    const conf = lines(haproxyConfig({ bindAddress: '0.0.0.0', port: 9697, resource: { kind: 'router', id: 'r-1' }, socketPath: '/tmp/cloudprobe-net-x/metadata_proxy' }));
    expect(conf).toContain('    bind 0.0.0.0:9697');
    expect(conf).toContain('    server metadata unix@/tmp/cloudprobe-net-x/metadata_proxy');
    expect(conf).toContain('    http-request set-header X-Neutron-Router-ID r-1');
    expect(conf).toContain('    http-request del-header X-Neutron-Network-ID');
    expect(conf).toContain('    http-request del-header X-Forwarded-For');
    expect(conf).toContain('    option forwardfor');
    expect(conf).toContain('    mode http');
    expect(conf.some((l) => l.includes('X-Neutron-Network-ID') && l.includes('set-header'))).toBe(false);
  });

  it('network: listens on 169.254.169.254:80 and sets X-Neutron-Network-ID', () => {
    const conf = lines(haproxyConfig({ bindAddress: '169.254.169.254', port: 80, resource: { kind: 'network', id: 'n-1' }, socketPath: '/s' }));
    expect(conf).toContain('    bind 169.254.169.254:80');
    expect(conf).toContain('    http-request set-header X-Neutron-Network-ID n-1');
    expect(conf).toContain('    http-request del-header X-Neutron-Router-ID');
  });

  it('refuses ids and socket paths that would break the file', () => {
    expect(() => haproxyConfig({ bindAddress: '0.0.0.0', port: 9697, resource: { kind: 'router', id: 'r 1\nlisten x' }, socketPath: '/s' })).toThrow(/not a plain id/);
    expect(() => haproxyConfig({ bindAddress: '0.0.0.0', port: 9697, resource: { kind: 'router', id: 'r' }, socketPath: `/${'x'.repeat(120)}` })).toThrow(/^socketPath: .* longer than 107 bytes \(sun_path\)$/);
  });
});

describe('QEMU on a neutron segment', () => {
  const plan = planTopology({
    networks: [{ name: 'private', router: 'r1', subnet: { cidr: '172.16.11.0/24' } }],
    ports: [
      { network: 'private', id: '6dff047d-5f8d-584a-8696-fa1ff8593be9', mac: 'fa:16:3e:00:00:01', device_id: VM, tenant_id: 'p' },
      { network: 'private', mac: 'fa:16:3e:00:00:02', device_id: VM, tenant_id: 'p', nic: 'veth' },
    ],
  });
  const net = plan.networks[0]!;

  it("runs inside the segment namespace and opens the port's tap, with the port's MAC", () => {
    expect(qemuNetnsPrefix('cp39u-c1-seg')).toEqual(['ip', 'netns', 'exec', 'cp39u-c1-seg']);
    expect(qemuNetdevArgs(net.ports[0]!, 1)).toEqual(['-netdev', 'tap,id=net1,ifname=tap6dff047d-5f,script=no,downscript=no', '-device', 'virtio-net-pci,netdev=net1,mac=fa:16:3e:00:00:01']);
  });

  it('refuses ports QEMU cannot own', () => {
    expect(() => qemuNetdevArgs(net.ports[1]!, 0)).toThrow(/is a veth NIC, not a tap for QEMU/);
    expect(() => qemuNetdevArgs(net.dhcpPort!, 0)).toThrow(/is a network:dhcp port, not a VM's/);
  });
});
