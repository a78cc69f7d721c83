import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Instance } from '../../harness/model/instance.ts';
import { startMetadataService, type MetadataService } from '../../harness/metadata/service.ts';
import { neutronDb } from '../../harness/network/neutron/instance-lookup.ts';
import { startMetadataAgent, type MetadataAgent } from '../../harness/network/neutron/metadata-agent.ts';
import { planTopology } from '../../harness/model/topology.ts';
import { minimalInstance } from '../helpers/instances.ts';

/**
 * The metadata agent alone, as haproxy talks to it: HTTP over its unix socket, in front of the
 * real nova-like service on loopback. No namespaces, so no root needed.
 */

const SECRET = 'agent-test-secret';
let dir: string;
let svc: MetadataService;
let agent: MetadataAgent;
let vm: Instance;
let plan: ReturnType<typeof planTopology>;

interface Reply {
  status: number;
  body: string;
}

function viaSocket(socketPath: string, method: string, path: string, headers: Record<string, string>, body = ''): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { ...headers, ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-neutron-agent-'));
  svc = await startMetadataService({ secret: SECRET });
  vm = await minimalInstance('agent-vm', '0f0f0f0f-0000-4000-8000-00000000000f');
  plan = planTopology({
    networks: [{ name: 'private', router: 'r1', metadata: 'both', subnet: { cidr: '172.16.11.0/24' } }],
    ports: [{ network: 'private', mac: 'fa:16:3e:00:00:0f', fixed_ip: '172.16.11.26', device_id: vm.uuid, tenant_id: vm.project_id }],
  });
  await svc.addInstance(vm, { guestIp: '172.16.11.26' });
  agent = await startMetadataAgent({
    socketPath: join(dir, 'metadata_proxy'),
    db: neutronDb(plan),
    nova: { host: '127.0.0.1', port: svc.port },
    secret: SECRET,
    namespaces: { [plan.routers[0]!.id]: 'qrouter-test' },
    logFile: join(dir, 'agent.jsonl'),
  });
});

afterAll(async () => {
  await agent?.close();
  await svc?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('metadata agent over its unix socket', () => {
  const network = () => plan.networks[0]!.id;
  const router = () => plan.routers[0]!.id;

  it('signs for the instance it found, and nova serves it', async () => {
    const r = await viaSocket(agent.socketPath, 'GET', '/openstack/latest/meta_data.json', { 'x-neutron-router-id': router(), 'x-forwarded-for': '172.16.11.26', 'x-instance-id': 'forged' });
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { uuid: string }).uuid).toBe(vm.uuid);
    expect(agent.requests().at(-1)).toMatchObject({ status: 200, via: 'router', namespace: 'qrouter-test', instanceId: vm.uuid, remoteIp: '172.16.11.26' });
  });

  it('passes method and body: the guest sets its password through it', async () => {
    const headers = { 'x-neutron-network-id': network(), 'x-forwarded-for': '172.16.11.26' };
    expect((await viaSocket(agent.socketPath, 'POST', '/openstack/latest/password', headers, 'hunter2')).status).toBe(200);
    expect(await viaSocket(agent.socketPath, 'GET', '/openstack/latest/password', headers)).toEqual({ status: 200, body: 'hunter2' });
    expect(agent.requests().at(-1)).toMatchObject({ via: 'dhcp', method: 'GET' });
  });

  it('missing headers → 400, unknown address → 404, each with the reason in body and log', async () => {
    const none = await viaSocket(agent.socketPath, 'GET', '/openstack', { 'x-forwarded-for': '172.16.11.26' });
    expect(none.status).toBe(400);
    expect(none.body).toContain('neither X-Neutron-Router-ID nor X-Neutron-Network-ID is set');
    const noXff = await viaSocket(agent.socketPath, 'GET', '/openstack', { 'x-neutron-network-id': network() });
    expect(noXff).toMatchObject({ status: 400, body: expect.stringContaining('X-Forwarded-For is missing') });
    const unknown = await viaSocket(agent.socketPath, 'GET', '/openstack', { 'x-neutron-network-id': network(), 'x-forwarded-for': '172.16.11.27' });
    expect(unknown.status).toBe(404);
    expect(agent.requests().at(-1)).toMatchObject({ status: 404, reason: `no port has 172.16.11.27 on network ${network()}` });
    await agent.flush();
    const lines = (await readFile(join(dir, 'agent.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.length).toBe(agent.requests().length);
  });

  it('forwards to loopback only', async () => {
    await expect(startMetadataAgent({ socketPath: join(dir, 'far'), db: neutronDb(plan), nova: { host: '192.0.2.1', port: 8775 }, secret: SECRET })).rejects.toThrow('nova.host: 192.0.2.1 is not a loopback address');
  });

  it('a wrong shared secret is refused by nova (403), an unreachable nova is a 503', async () => {
    const wrong = await startMetadataAgent({ socketPath: join(dir, 'wrong'), db: neutronDb(plan), nova: { host: '127.0.0.1', port: svc.port }, secret: 'not-the-secret' });
    try {
      const r = await viaSocket(wrong.socketPath, 'GET', '/openstack', { 'x-neutron-router-id': router(), 'x-forwarded-for': '172.16.11.26' });
      expect(r.status).toBe(403);
    } finally {
      await wrong.close();
    }
    const down = await startMetadataAgent({ socketPath: join(dir, 'down'), db: neutronDb(plan), nova: { host: '127.0.0.1', port: 9 }, secret: SECRET });
    try {
      const r = await viaSocket(down.socketPath, 'GET', '/openstack', { 'x-neutron-router-id': router(), 'x-forwarded-for': '172.16.11.26' });
      expect(r.status).toBe(503);
      expect(r.body).toContain('temporarily unavailable');
      expect(down.requests().at(-1)).toMatchObject({ status: 503, reason: expect.stringMatching(/^metadata service: .*ECONNREFUSED/) });
    } finally {
      await down.close();
    }
  });
});
