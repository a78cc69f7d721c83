import { connect } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Instance } from '../../harness/model/instance.ts';
import { ec2InstanceId, metaData, networkData } from '../../harness/datasource/nova-metadata.ts';
import { pythonJsonDumps } from '../../harness/datasource/python-json.ts';
import { PASSWORD_MAX_BYTES, startMetadataService, type InstanceEndpoint, type MetadataService } from '../../harness/metadata/service.ts';
import { signInstanceId } from '../../harness/metadata/signing.ts';
import { fullInstance, minimalInstance } from '../helpers/instances.ts';
import { httpRequest, rawRequest, type RawResponse } from '../helpers/raw-http.ts';

// Real HTTP over loopback only: raw sockets, socat (the guestfwd relay) and busybox wget.

const SECRET = 'test-shared-secret';
let svc: MetadataService;
let logDir: string;
let a: Instance;
let b: Instance;
let epA: InstanceEndpoint;
let epB: InstanceEndpoint;

const get = (ep: InstanceEndpoint, path: string, headers: Record<string, string> = {}) => httpRequest(ep.port, 'GET', path, headers);
const text = (r: RawResponse) => r.body.toString('utf8');

beforeAll(async () => {
  logDir = await mkdtemp(join(tmpdir(), 'cloudprobe-test-mdlog-'));
  svc = await startMetadataService({ secret: SECRET, logDir });
  a = await fullInstance();
  b = await minimalInstance('other', '22222222-2222-4222-8222-222222222222');
  epA = await svc.addInstance(a, { guestIp: '169.254.169.15' });
  epB = await svc.addInstance(b);
});

afterAll(async () => {
  await svc?.close();
  await rm(logDir, { recursive: true, force: true });
});

describe('nova proxy-chain identity (direct to the service)', () => {
  const signed = (inst: Instance, over: Record<string, string | undefined> = {}) => {
    const h: Record<string, string | undefined> = {
      'x-instance-id': inst.uuid,
      'x-tenant-id': inst.project_id,
      'x-instance-id-signature': signInstanceId(SECRET, inst.uuid),
      ...over,
    };
    return Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string>;
  };
  const direct = (path: string, headers: Record<string, string>) => httpRequest(svc.port, 'GET', path, headers);

  it('answers / without identity, like nova', async () => {
    const r = await direct('/', {});
    expect(r.status).toBe(200);
    expect(text(r)).toBe('1.0\n2007-01-19\n2007-03-01\n2007-08-29\n2007-10-10\n2007-12-15\n2008-02-01\n2008-09-01\n2009-04-04\nlatest');
  });

  it('serves a correctly signed request', async () => {
    const r = await direct('/openstack/latest/meta_data.json', signed(a));
    expect(r.status).toBe(200);
    expect(JSON.parse(text(r)).uuid).toBe(a.uuid);
  });

  it.each([
    ['X-Instance-ID', { 'x-instance-id': undefined }],
    ['X-Instance-ID-Signature', { 'x-instance-id-signature': undefined }],
    ['X-Tenant-ID', { 'x-tenant-id': undefined }],
  ])('400 when %s is missing', async (name, over) => {
    const r = await direct('/openstack/latest/meta_data.json', signed(a, over));
    expect(r.status).toBe(400);
    expect(text(r)).toContain(`${name} header is missing`);
  });

  it('400 on duplicated identity headers', async () => {
    const head = `GET /latest/meta-data/ HTTP/1.1\r\nhost: m\r\nconnection: close\r\nx-instance-id: ${a.uuid}\r\nx-instance-id: ${b.uuid}\r\nx-tenant-id: ${a.project_id}\r\nx-instance-id-signature: ${signInstanceId(SECRET, a.uuid)}\r\n\r\n`;
    expect((await rawRequest(svc.port, head)).status).toBe(400);
  });

  it('403 on a bad signature, including another instance\'s signature', async () => {
    expect((await direct('/latest/meta-data/', signed(a, { 'x-instance-id-signature': 'deadbeef' }))).status).toBe(403);
    expect((await direct('/latest/meta-data/', signed(a, { 'x-instance-id-signature': signInstanceId(SECRET, b.uuid) }))).status).toBe(403);
    expect((await direct('/latest/meta-data/', signed(a, { 'x-instance-id-signature': signInstanceId('wrong-secret', a.uuid) }))).status).toBe(403);
  });

  it('404 on a tenant mismatch or an unknown instance', async () => {
    expect((await direct('/latest/meta-data/', signed(a, { 'x-tenant-id': b.project_id + 'x' }))).status).toBe(404);
    const ghost = '33333333-3333-4333-8333-333333333333';
    const r = await direct('/latest/meta-data/', { 'x-instance-id': ghost, 'x-tenant-id': 'cloudprobe', 'x-instance-id-signature': signInstanceId(SECRET, ghost) });
    expect(r.status).toBe(404);
  });
});

describe('OpenStack API through the instance proxy', () => {
  it('lists versions and files per version', async () => {
    const versions = await get(epA, '/openstack');
    expect(versions.headers['content-type']).toBe('text/plain; charset=UTF-8');
    expect(text(versions).split('\n')).toEqual([
      '2012-08-10', '2013-04-04', '2013-10-17', '2015-10-15', '2016-06-30', '2016-10-06', '2017-02-22', '2018-08-27', '2020-10-14', '2025-04-04', 'latest',
    ]);
    expect(text(await get(epA, '/openstack/latest'))).toBe('meta_data.json\nuser_data\npassword\nvendor_data.json\nnetwork_data.json\nvendor_data2.json');
    expect(text(await get(epA, '/openstack/2012-08-10/'))).toBe('meta_data.json\nuser_data');
    expect(text(await get(epB, '/openstack/2013-10-17'))).toBe('meta_data.json\npassword\nvendor_data.json');
  });

  it('serves meta_data.json as nova does for the service (no admin_pass, no files)', async () => {
    const r = await get(epA, '/openstack/latest/meta_data.json');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    const md = JSON.parse(text(r)) as Record<string, unknown>;
    const { random_seed: seed, ...rest } = md;
    const { random_seed: _ignored, ...want } = metaData(a, '2025-04-04');
    expect(rest).toEqual(want);
    expect(Buffer.from(seed as string, 'base64')).toHaveLength(512);
    expect(md).not.toHaveProperty('admin_pass');
  });

  it('serves user data, vendor data and network data byte for byte', async () => {
    const ud = await get(epA, '/openstack/2018-08-27/user_data');
    expect(ud.headers['content-type']).toBe('text/plain; charset=UTF-8');
    expect(text(ud)).toBe(a.user_data);
    expect(text(await get(epA, '/openstack/latest/vendor_data.json'))).toBe(pythonJsonDumps(a.vendor_data));
    expect(text(await get(epA, '/openstack/latest/vendor_data2.json'))).toBe(pythonJsonDumps(a.vendor_data2));
    const nd = await get(epA, '/openstack/2015-10-15/network_data.json');
    expect(nd.headers['content-type']).toBe('application/json');
    expect(JSON.parse(text(nd))).toEqual(networkData(a));
  });

  it('404s files a version does not have, unknown versions and config-drive-only content', async () => {
    for (const p of [
      '/openstack/2013-04-04/vendor_data.json',
      '/openstack/2013-10-17/network_data.json',
      '/openstack/2016-06-30/vendor_data2.json',
      '/openstack/2012-08-10/password',
      '/openstack/2099-01-01/meta_data.json',
      '/openstack/latest/meta_data.json/uuid',
      '/openstack/content/0000',
      '/openstack/latest/nope',
    ]) {
      expect((await get(epA, p)).status, p).toBe(404);
    }
    expect((await get(epB, '/openstack/latest/user_data')).status).toBe(404);
  });
});

describe('EC2 API through the instance proxy', () => {
  it('lists meta-data with directories marked by a trailing slash', async () => {
    const r = await get(epA, '/latest/meta-data/');
    expect(r.status).toBe(200);
    expect(text(r).split('\n')).toEqual([
      'ami-id', 'ami-launch-index', 'ami-manifest-path', 'block-device-mapping/', 'hostname', 'instance-action', 'instance-id',
      'instance-type', 'local-hostname', 'local-ipv4', 'placement/', 'public-hostname', 'public-ipv4', 'public-keys/',
      'reservation-id', 'security-groups',
    ]);
    expect(text(await get(epA, '/latest'))).toBe('meta-data/\nuser-data');
    expect(text(await get(epB, '/2009-04-04/'))).toBe('meta-data/');
  });

  it('serves the leaves', async () => {
    const leaf = async (p: string) => text(await get(epA, `/2009-04-04/meta-data/${p}`));
    expect(await leaf('instance-id')).toBe(ec2InstanceId(a));
    expect(await leaf('hostname')).toBe('web-1.example.org');
    expect(await leaf('local-hostname')).toBe('web-1.example.org');
    expect(await leaf('local-ipv4')).toBe('169.254.169.15');
    expect(await leaf('placement/availability-zone')).toBe('zone-b');
    expect(await leaf('public-keys/')).toBe('0=alice\n1=bob');
    expect(await leaf('public-keys/1/')).toBe('openssh-key');
    expect(await leaf('public-keys/1/openssh-key')).toBe(a.public_keys.bob);
    expect(await leaf('ami-id')).toMatch(/^ami-[0-9a-f]{8}$/);
    expect(text(await get(epA, '/latest/user-data'))).toBe(a.user_data);
  });

  it('grows with the version and 404s what is not there', async () => {
    expect(text(await get(epA, '/1.0/meta-data/'))).not.toContain('local-hostname');
    expect(text(await get(epA, '/2008-02-01/meta-data/'))).toContain('placement/');
    for (const p of ['/1.0/meta-data/placement/', '/2010-01-01/meta-data/', '/latest/meta-data/nope', '/latest/meta-data/public-keys/0/_name', '/latest/meta-data/hostname/x', '/latest/dynamic/instance-identity/']) {
      expect((await get(epA, p)).status, p).toBe(404);
    }
    expect((await get(epB, '/latest/user-data')).status).toBe(404);
    expect((await get(epB, '/latest/meta-data/public-keys/')).status).toBe(404);
    expect(text(await get(epB, '/latest/meta-data/'))).not.toContain('local-ipv4');
  });
});

describe('methods, traversal and odd encodings', () => {
  it('405 with Allow for methods a resource does not take', async () => {
    const post = await httpRequest(epA.port, 'POST', '/latest/meta-data/', {}, 'x');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await httpRequest(epA.port, 'DELETE', '/openstack/latest/meta_data.json')).status).toBe(405);
    expect((await httpRequest(epA.port, 'PUT', '/openstack/latest/password', {}, 'x')).headers.allow).toBe('GET, HEAD, POST');
    // IMDSv2 is off for this instance: there is no token resource.
    expect((await httpRequest(epA.port, 'PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' })).status).toBe(404);
  });

  it('answers HEAD with headers only', async () => {
    const r = await httpRequest(epA.port, 'HEAD', '/openstack/latest/meta_data.json');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.body).toHaveLength(0);
  });

  it('normalises paths like nova and never escapes the tree', async () => {
    expect(JSON.parse(text(await get(epA, '//openstack//latest/./meta_data.json'))).uuid).toBe(a.uuid);
    expect(JSON.parse(text(await get(epA, '/openstack/2012-08-10/../latest/meta_data.json'))).uuid).toBe(a.uuid);
    expect(JSON.parse(text(await get(epA, '/openstack/latest/meta_data.json?x=1'))).uuid).toBe(a.uuid);
    expect(JSON.parse(text(await get(epA, '/openstack/latest/meta%5Fdata.json'))).uuid).toBe(a.uuid);
    for (const p of ['/../../../../etc/passwd', '/openstack/../../etc/passwd', '/openstack/%2e%2e/%2e%2e/etc/passwd', '/latest/meta-data/..%2f..%2f..%2fetc%2fpasswd', '/openstack/latest\\meta_data.json']) {
      const r = await get(epA, p);
      expect(r.status, p).toBe(404);
      expect(text(r)).not.toContain('root:');
    }
    expect((await get(epA, '/..')).status).toBe(200); // normalises to / like posixpath.normpath
  });

  it('400 on malformed or hostile encodings', async () => {
    for (const p of ['/openstack/%zz', '/openstack/latest/%00meta_data.json', '/latest/%c0%ae%c0%ae/', '/latest/meta-data/%0d%0aX-Injected:%201', '/openstack/%ff']) {
      const r = await get(epA, p);
      expect(r.status, p).toBe(400);
      expect(r.headers['x-injected']).toBeUndefined();
    }
  });

  it('accepts an absolute-form request target', async () => {
    const r = await get(epA, 'http://metadata.invalid/openstack/latest/meta_data.json');
    expect(JSON.parse(text(r)).uuid).toBe(a.uuid);
  });
});

describe('isolation between instances', () => {
  it('each proxy serves only its own instance, whatever the guest claims', async () => {
    expect(JSON.parse(text(await get(epA, '/openstack/latest/meta_data.json'))).uuid).toBe(a.uuid);
    expect(JSON.parse(text(await get(epB, '/openstack/latest/meta_data.json'))).uuid).toBe(b.uuid);
    const spoof = {
      'x-instance-id': a.uuid,
      'x-tenant-id': a.project_id,
      'x-instance-id-signature': signInstanceId(SECRET, a.uuid),
      'x-forwarded-for': '10.9.9.9',
    };
    const r = await get(epB, '/openstack/latest/meta_data.json', spoof);
    expect(r.status).toBe(200);
    expect(JSON.parse(text(r)).uuid).toBe(b.uuid);
    expect(text(await get(epB, '/latest/meta-data/instance-id', spoof))).toBe(ec2InstanceId(b));
  });

  it('logs each instance\'s requests separately, in memory and as JSON lines', async () => {
    await get(epB, '/openstack/latest/network_data.json', { 'user-agent': 'Cloud-Init/22.4' });
    const bPaths = epB.requests().map((e) => e.path);
    expect(bPaths).toContain('/openstack/latest/network_data.json');
    expect(epA.requests().map((e) => e.path)).not.toContain('/openstack/latest/network_data.json');
    const last = epB.requests().at(-1);
    expect(last).toMatchObject({ method: 'GET', path: '/openstack/latest/network_data.json', status: 200, userAgent: 'Cloud-Init/22.4' });
    expect(Number.isNaN(Date.parse(last?.time ?? ''))).toBe(false);
    expect(epA.requests().some((e) => e.status === 404)).toBe(true);
    // The file is written asynchronously; removeInstance flushes it.
    const c = await minimalInstance('logged', '44444444-4444-4444-8444-444444444444');
    const epC = await svc.addInstance(c);
    await get(epC, '/latest/meta-data/hostname');
    await httpRequest(epC.port, 'POST', '/latest/meta-data/', {}, 'x');
    await svc.removeInstance(c.uuid);
    const lines = (await readFile(join(logDir, `${c.uuid}.metadata.jsonl`), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.method, l.path, l.status])).toEqual([
      ['GET', '/latest/meta-data/hostname', 200],
      ['POST', '/latest/meta-data/', 405],
    ]);
    await expect(get(epC, '/')).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('password (nova password.py)', () => {
  it('GET is empty until the guest POSTs, then fixed; size limit and conflict as nova', async () => {
    const p = await startMetadataService();
    try {
      const inst = await minimalInstance('pw', '55555555-5555-4555-8555-555555555555');
      const other = await minimalInstance('pw2', '66666666-6666-4666-8666-666666666666');
      const ep = await p.addInstance(inst);
      const ep2 = await p.addInstance(other);
      const r0 = await get(ep, '/openstack/latest/password');
      expect([r0.status, text(r0)]).toEqual([200, '']);
      expect((await httpRequest(ep.port, 'POST', '/openstack/latest/password', {}, 'x'.repeat(PASSWORD_MAX_BYTES + 1))).status).toBe(400);
      // Far over the limit, through the instance's proxy: still nova's 400, never the proxy's 502
      // (the service reads the refused body before it answers).
      for (const size of [2 * 1024 * 1024, 9 * 1024 * 1024]) {
        const big = await httpRequest(ep.port, 'POST', '/openstack/latest/password', {}, 'y'.repeat(size));
        expect(big.status, `${size} bytes`).toBe(400);
      }
      const pw = 'p'.repeat(PASSWORD_MAX_BYTES);
      expect((await httpRequest(ep.port, 'POST', '/openstack/2013-04-04/password', {}, pw)).status).toBe(200);
      expect(text(await get(ep, '/openstack/latest/password'))).toBe(pw);
      expect((await httpRequest(ep.port, 'POST', '/openstack/latest/password', {}, 'again')).status).toBe(409);
      expect(text(await get(ep2, '/openstack/latest/password'))).toBe('');
    } finally {
      await p.close();
    }
  });
});

describe('IMDSv2', () => {
  it('required: 401 without a valid token, tokens per instance, TTL bounds 1–21600', async () => {
    const s = await startMetadataService();
    try {
      const x = await minimalInstance('v2x', '77777777-7777-4777-8777-777777777777');
      const y = await minimalInstance('v2y', '88888888-8888-4888-8888-888888888888');
      const ex = await s.addInstance(x, { imdsv2: 'required' });
      const ey = await s.addInstance(y, { imdsv2: 'required' });
      expect((await get(ex, '/latest/meta-data/')).status).toBe(401);
      expect((await get(ex, '/2009-04-04/meta-data/instance-id')).status).toBe(401);
      const put = (ep: InstanceEndpoint, ttl?: string) => httpRequest(ep.port, 'PUT', '/latest/api/token', ttl === undefined ? {} : { 'x-aws-ec2-metadata-token-ttl-seconds': ttl });
      for (const bad of [undefined, '0', '21601', '-5', 'abc', '1.5', '']) expect((await put(ex, bad)).status, String(bad)).toBe(400);
      expect((await get(ex, '/latest/api/token')).status).toBe(405);
      expect((await put(ex, '1')).status).toBe(200);
      const t = await put(ex, '21600');
      expect(t.status).toBe(200);
      expect(t.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe('21600');
      const token = text(t);
      const ok = await get(ex, '/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': token });
      expect([ok.status, text(ok)]).toEqual([200, ec2InstanceId(x)]);
      expect((await get(ex, '/latest/meta-data/', { 'x-aws-ec2-metadata-token': token + 'x' })).status).toBe(401);
      expect((await get(ey, '/latest/meta-data/', { 'x-aws-ec2-metadata-token': token })).status).toBe(401);
      // Tokens guard the EC2 tree only (nova's OpenStack API has none).
      expect((await get(ex, '/openstack/latest/meta_data.json')).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('optional: works without a token, refuses a bad one', async () => {
    const s = await startMetadataService();
    try {
      const ep = await s.addInstance(await minimalInstance('v2o'), { imdsv2: 'optional' });
      expect((await get(ep, '/latest/meta-data/hostname')).status).toBe(200);
      expect((await get(ep, '/latest/meta-data/hostname', { 'x-aws-ec2-metadata-token': 'forged' })).status).toBe(401);
      const token = text(await httpRequest(ep.port, 'PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' }));
      expect((await get(ep, '/latest/meta-data/hostname', { 'x-aws-ec2-metadata-token': token })).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('clients and connections', () => {
  it('serves HTTP/1.0 clients and closes the connection', async () => {
    const r = await rawRequest(epA.port, 'GET /openstack/latest/meta_data.json HTTP/1.0\r\n\r\n');
    expect(r.status).toBe(200);
    expect(JSON.parse(text(r)).uuid).toBe(a.uuid);
  });

  it('works through socat, the relay QEMU guestfwd runs per connection', async () => {
    const r = await execa('socat', ['-', `TCP:127.0.0.1:${epA.port}`], {
      input: 'GET /latest/meta-data/hostname HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n',
      encoding: 'buffer',
      stripFinalNewline: false, // the body's last byte is part of what is checked
      timeout: 10_000,
    });
    const body = Buffer.from(r.stdout).toString();
    expect(body).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(body.endsWith('\r\n\r\nweb-1.example.org')).toBe(true);
  });

  it('serves busybox wget (what Cirros uses)', async () => {
    const r = await execa('busybox', ['wget', '-q', '-O', '-', `${epA.url}/latest/meta-data/public-keys/0/openssh-key`], { timeout: 10_000 });
    expect(r.stdout).toBe(a.public_keys.alice);
  });

  it('handles a burst of short concurrent connections', async () => {
    const paths = Array.from({ length: 60 }, (_, i) => (i % 2 ? '/latest/meta-data/instance-id' : '/openstack/latest/network_data.json'));
    const rs = await Promise.all(paths.map((p) => get(epA, p)));
    expect(rs.every((r) => r.status === 200)).toBe(true);
  });

  it('close() ends every listener, even with idle keep-alive connections open', async () => {
    const s = await startMetadataService();
    const ep = await s.addInstance(await minimalInstance('closing'));
    const idle = connect({ host: '127.0.0.1', port: ep.port });
    await new Promise<void>((resolve) => idle.once('connect', () => resolve()));
    idle.write('GET / HTTP/1.1\r\nHost: m\r\n\r\n');
    await new Promise<void>((resolve) => idle.once('data', () => resolve()));
    const closed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    await s.close();
    await closed;
    await expect(get(ep, '/')).rejects.toThrow(/ECONNREFUSED/);
    await expect(httpRequest(s.port, 'GET', '/')).rejects.toThrow(/ECONNREFUSED/);
  });
});
