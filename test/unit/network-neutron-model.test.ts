import { describe, expect, it } from 'vitest';
import { allPorts, planTopology, type TopologySpec } from '../../harness/model/topology.ts';
import { UserError } from '../../harness/util/errors.ts';

const VM1 = '11111111-1111-4111-8111-111111111111';
const VM2 = '22222222-2222-4222-8222-222222222222';

const seed = (over: Partial<TopologySpec> = {}): TopologySpec => ({
  networks: [{ name: 'private', router: 'r1', subnet: { cidr: '172.16.11.0/24' } }],
  ports: [
    { network: 'private', mac: 'FA:16:3E:00:00:01', device_id: VM1, tenant_id: 'p1', fixed_ip: '172.16.11.26' },
    { network: 'private', mac: 'fa:16:3e:00:00:02', device_id: VM2, tenant_id: 'p1' },
  ],
  ...over,
});

describe('planTopology', () => {
  it('puts the router on the gateway, the DHCP port on the first free address, guests after it', () => {
    const plan = planTopology(seed());
    const net = plan.networks[0]!;
    expect(net.subnet).toMatchObject({ cidr: '172.16.11.0/24', gatewayIp: '172.16.11.1', enableDhcp: true, netmask: '255.255.255.0', prefixLength: 24 });
    expect(net.routerPort).toMatchObject({ ip: '172.16.11.1', deviceOwner: 'network:router_interface', deviceId: net.routerId });
    expect(net.dhcpPort).toMatchObject({ ip: '172.16.11.2', deviceOwner: 'network:dhcp', hostname: 'host-172-16-11-2' });
    expect(net.ports.map((p) => [p.ip, p.mac, p.deviceOwner, p.nic])).toEqual([
      ['172.16.11.26', 'fa:16:3e:00:00:01', 'compute:nova', 'tap'],
      ['172.16.11.3', 'fa:16:3e:00:00:02', 'compute:nova', 'tap'],
    ]);
    expect(net.probePort).toBeUndefined();
    expect(plan.routers).toEqual([{ id: net.routerId, name: 'r1', networkIds: [net.id] }]);
    expect(net.metadata).toBe('l3-agent');
    expect(plan.notes).toEqual([]);
  });

  it('is reproducible: the same description gives the same ids and MACs', () => {
    expect(planTopology(seed())).toEqual(planTopology(seed()));
    const ids = allPorts(planTopology(seed())).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of allPorts(planTopology(seed()))) expect(p.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  });

  it('gives a DHCP-disabled network without router no DHCP port but a probe, and says what nothing serves', () => {
    const plan = planTopology({
      networks: [{ name: 'iso', metadata: 'dhcp-agent', subnet: { cidr: '10.9.0.0/28', enable_dhcp: false, gateway_ip: null } }],
      ports: [{ network: 'iso', mac: 'fa:16:3e:00:00:09', device_id: VM1, tenant_id: 'p1' }],
    });
    const net = plan.networks[0]!;
    expect(net.dhcpPort).toBeUndefined();
    expect(net.routerPort).toBeUndefined();
    expect(net.subnet.gatewayIp).toBeNull();
    expect(net.ports[0]!.ip).toBe('10.9.0.1');
    expect(net.probePort).toMatchObject({ ip: '10.9.0.2', deviceOwner: 'network:probe' });
    expect(plan.notes.join('\n')).toMatch(/iso: metadata dhcp-agent: DHCP is disabled/);
    expect(plan.notes.join('\n')).toMatch(/iso: nothing answers 169\.254\.169\.254/);
  });

  it('notes an l3-agent network without router', () => {
    const plan = planTopology(seed({ networks: [{ name: 'private', subnet: { cidr: '172.16.11.0/24' } }] }));
    expect(plan.notes).toContain('private: metadata l3-agent: not attached to a router, so no router namespace proxy');
    expect(plan.networks[0]!.dhcpPort?.ip).toBe('172.16.11.2');
  });

  it('shares one router between networks, and refuses overlapping subnets on it', () => {
    const two = planTopology({
      networks: [
        { name: 'a', router: 'r', subnet: { cidr: '10.1.0.0/24' } },
        { name: 'b', router: 'r', subnet: { cidr: '10.2.0.0/24' } },
      ],
      ports: [],
    });
    expect(two.routers).toHaveLength(1);
    expect(two.routers[0]!.networkIds).toEqual(two.networks.map((n) => n.id));
    expect(() =>
      planTopology({
        networks: [
          { name: 'a', router: 'r', subnet: { cidr: '10.1.0.0/16' } },
          { name: 'b', router: 'r', subnet: { cidr: '10.1.2.0/24' } },
        ],
        ports: [],
      }),
    ).toThrow('networks[1].router: 10.1.2.0/24 overlaps 10.1.0.0/16 of a on router r');
  });

  it.each([
    [{ networks: [] }, /^networks: at least one network/],
    [seed({ networks: [{ name: 'private', subnet: { cidr: '172.16.11.5/24' } }] }), /^networks\[0\]\.subnet\.cidr: "172\.16\.11\.5\/24" isn't a recognized IP subnet cidr, "172\.16\.11\.0\/24" is recommended$/],
    [seed({ networks: [{ name: 'private', subnet: { cidr: '172.16.11.0/30' } }] }), /^networks\[0\]\.subnet\.cidr: \/30 leaves no room/],
    [seed({ networks: [{ name: 'private', subnet: { cidr: 'fd00::/64' } }] }), /^networks\[0\]\.subnet\.cidr: "fd00::\/64" is not an IPv4 CIDR/],
    [seed({ networks: [{ name: 'private', subnet: { cidr: '172.16.11.0/24', gateway_ip: '172.16.12.1' } }] }), /^networks\[0\]\.subnet\.gateway_ip: 172\.16\.12\.1 is not a host address of 172\.16\.11\.0\/24$/],
    [seed({ networks: [{ name: 'private', router: 'r', subnet: { cidr: '172.16.11.0/24', gateway_ip: null } }] }), /^networks\[0\]\.router: a router is attached on the subnet gateway_ip, which is null$/],
    [seed({ networks: [{ name: 'private', metadata: 'nova' as never, subnet: { cidr: '172.16.11.0/24' } }] }), /^networks\[0\]\.metadata: "nova" is not one of l3-agent, dhcp-agent, both, none$/],
    [seed({ networks: [{ name: 'private', mtu: 100, subnet: { cidr: '172.16.11.0/24' } }] }), /^networks\[0\]\.mtu:/],
    [seed({ networks: [{ name: 'private', subnet: { cidr: '172.16.11.0/24', host_routes: [{ destination: '10.0.0.0/8', nexthop: 'x' }] } }] }), /^networks\[0\]\.subnet\.host_routes\[0\]\.nexthop: "x" is not an IPv4 address$/],
    [seed({ networks: [{ name: 'private', subnet: { cidr: '172.16.11.0/24', dns_nameservers: ['8.8.8'] } }] }), /^networks\[0\]\.subnet\.dns_nameservers\[0\]:/],
    [seed({ networks: [{ name: 'private', id: 'net-1', subnet: { cidr: '172.16.11.0/24' } }] }), /^networks\[0\]\.id: "net-1" is not a uuid$/],
    [seed({ ports: [{ network: 'public', mac: 'fa:16:3e:00:00:01', device_id: VM1, tenant_id: 'p' }] }), /^ports\[0\]\.network: "public" is not a network/],
    [seed({ ports: [{ network: 'private', mac: 'fa:16:3e:00:00:01', device_id: VM1, tenant_id: 'p', fixed_ip: '172.16.11.1' }] }), /^ports\[0\]\.fixed_ip: 172\.16\.11\.1 is the gateway_ip of private$/],
    [seed({ ports: [{ network: 'private', mac: 'fa:16:3e:00:00:01', device_id: VM1, tenant_id: 'p', fixed_ip: '172.16.11.255' }] }), /^ports\[0\]\.fixed_ip: 172\.16\.11\.255 is not a host address/],
    [
      seed({
        ports: [
          { network: 'private', mac: 'fa:16:3e:00:00:01', device_id: VM1, tenant_id: 'p', fixed_ip: '172.16.11.9' },
          { network: 'private', mac: 'fa:16:3e:00:00:02', device_id: VM2, tenant_id: 'p', fixed_ip: '172.16.11.9' },
        ],
      }),
      /^ports\[1\]\.fixed_ip: 172\.16\.11\.9 is already allocated on private$/,
    ],
    [
      seed({
        ports: [
          { network: 'private', mac: 'fa:16:3e:00:00:01', device_id: VM1, tenant_id: 'p' },
          { network: 'private', mac: 'FA:16:3E:00:00:01', device_id: VM2, tenant_id: 'p' },
        ],
      }),
      /^ports\[1\]\.mac: fa:16:3e:00:00:01 is already used on private$/,
    ],
    [seed({ ports: [{ network: 'private', mac: '52:54:00:12:34', device_id: VM1, tenant_id: 'p' }] }), /^ports\[0\]\.mac:/],
    [seed({ ports: [{ network: 'private', mac: 'fa:16:3e:00:00:01', device_id: '', tenant_id: 'p' }] }), /^ports\[0\]\.device_id: the instance uuid is required$/],
    [seed({ ports: [{ network: 'private', mac: 'fa:16:3e:00:00:01', device_id: VM1, tenant_id: 'p', nic: 'vhost' as never }] }), /^ports\[0\]\.nic:/],
  ])('refuses bad input with one line naming the field (%#)', (spec, message) => {
    let err: unknown;
    try {
      planTopology(spec as TopologySpec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });

  it('runs out of addresses with a clear message', () => {
    const ports = Array.from({ length: 5 }, (_, i) => ({ network: 'tiny', mac: `fa:16:3e:00:00:0${i}`, device_id: VM1, tenant_id: 'p' }));
    // /29: 6 hosts, minus the gateway and the DHCP port: 4 guests.
    expect(() => planTopology({ networks: [{ name: 'tiny', subnet: { cidr: '10.0.0.0/29' } }], ports })).toThrow('ports[4].fixed_ip: no address left on tiny');
  });
});
