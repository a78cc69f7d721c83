import { describe, expect, it } from 'vitest';
import { lookupInstance, neutronDb, remoteAddress } from '../../harness/network/neutron/instance-lookup.ts';
import { planTopology } from '../../harness/model/topology.ts';

const VM1 = '11111111-1111-4111-8111-111111111111';
const VM2 = '22222222-2222-4222-8222-222222222222';
const VM3 = '33333333-3333-4333-8333-333333333333';

// Two networks on one router, a third (same addresses as the first) on no router.
const plan = planTopology({
  networks: [
    { name: 'a', router: 'r1', subnet: { cidr: '172.16.11.0/24' } },
    { name: 'b', router: 'r1', subnet: { cidr: '10.0.5.0/24' } },
    { name: 'c', metadata: 'dhcp-agent', subnet: { cidr: '172.16.11.0/24' } },
  ],
  ports: [
    { network: 'a', mac: 'fa:16:3e:00:00:01', fixed_ip: '172.16.11.26', device_id: VM1, tenant_id: 'p1' },
    { network: 'b', mac: 'fa:16:3e:00:00:02', fixed_ip: '10.0.5.7', device_id: VM2, tenant_id: 'p2' },
    { network: 'c', mac: 'fa:16:3e:00:00:03', fixed_ip: '172.16.11.26', device_id: VM3, tenant_id: 'p3' },
  ],
});
const db = neutronDb(plan);
const [a, b, c] = plan.networks as [(typeof plan.networks)[0], (typeof plan.networks)[0], (typeof plan.networks)[0]];
const router = plan.routers[0]!.id;

describe('metadata agent: instance lookup', () => {
  it('router → its networks → the port with the source address → instance and project', () => {
    expect(lookupInstance(db, { routerId: router, forwardedFor: '172.16.11.26' })).toMatchObject({ ok: true, via: 'router', resourceId: router, instanceId: VM1, tenantId: 'p1', port: { id: a.ports[0]!.id } });
    expect(lookupInstance(db, { routerId: router, forwardedFor: '10.0.5.7' })).toMatchObject({ ok: true, via: 'router', instanceId: VM2, tenantId: 'p2' });
  });

  it('network → its subnet: the same address on another network is another instance', () => {
    expect(lookupInstance(db, { networkId: c.id, forwardedFor: '172.16.11.26' })).toMatchObject({ ok: true, via: 'dhcp', resourceId: c.id, instanceId: VM3, tenantId: 'p3' });
    expect(lookupInstance(db, { networkId: a.id, forwardedFor: '172.16.11.26' })).toMatchObject({ ok: true, instanceId: VM1 });
    // c is on no router: the router never finds VM3.
    expect(lookupInstance(db, { networkId: b.id, forwardedFor: '172.16.11.26' })).toMatchObject({ ok: false, status: 404, reason: `172.16.11.26 is in no subnet of network ${b.id}` });
  });

  it('unknown address, infrastructure port, unknown router or network → 404 with the reason', () => {
    expect(lookupInstance(db, { routerId: router, forwardedFor: '172.16.11.99' })).toEqual({
      ok: false,
      status: 404,
      via: 'router',
      resourceId: router,
      remoteIp: '172.16.11.99',
      reason: `no port has 172.16.11.99 on the networks of router ${router}`,
    });
    expect(lookupInstance(db, { networkId: a.id, forwardedFor: a.dhcpPort!.ip })).toMatchObject({ ok: false, status: 404, reason: `${a.dhcpPort!.ip} is port ${a.dhcpPort!.id} of network:dhcp, not an instance` });
    expect(lookupInstance(db, { routerId: VM1, forwardedFor: '172.16.11.26' })).toMatchObject({ ok: false, status: 404, reason: `no router ${VM1}` });
    expect(lookupInstance(db, { networkId: VM1, forwardedFor: '172.16.11.26' })).toMatchObject({ ok: false, status: 404, reason: `no network ${VM1}` });
  });

  it('missing or contradictory headers → 400', () => {
    expect(lookupInstance(db, { forwardedFor: '172.16.11.26' })).toMatchObject({ ok: false, status: 400, reason: 'neither X-Neutron-Router-ID nor X-Neutron-Network-ID is set' });
    expect(lookupInstance(db, { routerId: router, networkId: a.id, forwardedFor: '172.16.11.26' })).toMatchObject({ ok: false, status: 400, reason: expect.stringMatching(/^both X-Neutron-Router-ID and X-Neutron-Network-ID are set/) });
    expect(lookupInstance(db, { routerId: router })).toMatchObject({ ok: false, status: 400, via: 'router', reason: 'X-Forwarded-For is missing' });
    expect(lookupInstance(db, { networkId: a.id, forwardedFor: 'guest' })).toMatchObject({ ok: false, status: 400, reason: 'X-Forwarded-For "guest" is not an IP address' });
  });

  it("takes the last X-Forwarded-For entry (the proxy's), and IPv4-mapped IPv6 as IPv4", () => {
    expect(remoteAddress('10.0.5.7, 172.16.11.26')).toBe('172.16.11.26');
    expect(remoteAddress('::ffff:172.16.11.26')).toBe('172.16.11.26');
    expect(lookupInstance(db, { routerId: router, forwardedFor: '10.0.5.7, 172.16.11.26' })).toMatchObject({ ok: true, instanceId: VM1 });
  });
});
