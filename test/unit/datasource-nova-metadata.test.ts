import { describe, expect, it } from 'vitest';
import {
  configDriveFiles,
  ec2MetaData,
  metaData,
  networkData,
  OPENSTACK_VERSIONS,
  openstackVersionFiles,
} from '../../harness/datasource/nova-metadata.ts';
import { pythonJsonDumps } from '../../harness/datasource/python-json.ts';
import { fullInstance, minimalInstance, seededRandom } from '../helpers/instances.ts';

describe('pythonJsonDumps', () => {
  it('writes what Python json.dumps writes', () => {
    expect(pythonJsonDumps({ a: [1, 'x'], b: { c: null, d: true } })).toBe('{"a": [1, "x"], "b": {"c": null, "d": true}}');
    expect(pythonJsonDumps('é☃\n\u0001"\\\u007f')).toBe('"\\u00e9\\u2603\\n\\u0001\\"\\\\\\u007f"');
    expect(pythonJsonDumps([])).toBe('[]');
    expect(pythonJsonDumps({})).toBe('{}');
  });
});

describe('meta_data.json', () => {
  it('has nova keys in nova order, gated by version', async () => {
    const i = await fullInstance();
    const old = metaData(i, '2012-08-10', { random: seededRandom('x') });
    expect(Object.keys(old)).toEqual(['uuid', 'meta', 'public_keys', 'keys', 'hostname', 'name', 'launch_index', 'availability_zone']);
    const latest = metaData(i, '2025-04-04', { random: seededRandom('x'), configDrive: true });
    expect(Object.keys(latest)).toEqual([
      'uuid', 'meta', 'files', 'admin_pass', 'public_keys', 'keys', 'hostname', 'name', 'launch_index',
      'availability_zone', 'random_seed', 'project_id', 'devices', 'dedicated_cpus',
    ]);
    expect(latest.keys).toEqual([
      { name: 'alice', type: 'ssh', data: i.public_keys.alice },
      { name: 'bob', type: 'ssh', data: i.public_keys.bob },
    ]);
    expect(latest.files).toEqual([
      { path: '/etc/motd', content_path: '/content/0000' },
      { path: '/root/notes.txt', content_path: '/content/0001' },
    ]);
    expect(Buffer.from(latest.random_seed as string, 'base64')).toHaveLength(512);
  });

  it('keeps admin_pass and files off the metadata service, and omits empty meta and keys', async () => {
    const md = metaData(await fullInstance(), '2018-08-27');
    expect(md).not.toHaveProperty('admin_pass');
    expect(md).not.toHaveProperty('files');
    const tiny = metaData(await minimalInstance(), '2018-08-27');
    expect(tiny).not.toHaveProperty('meta');
    expect(tiny).not.toHaveProperty('public_keys');
    expect(tiny.hostname).toBe('tiny.novalocal');
  });
});

describe('network_data.json', () => {
  it('renders static and DHCP NICs as nova does', async () => {
    const nd = networkData(await fullInstance());
    expect(nd.links.map((l) => [l.ethernet_mac_address, l.mtu, l.type])).toEqual([
      ['52:54:00:ab:cd:01', 1450, 'ovs'],
      ['52:54:00:ab:cd:02', null, 'ovs'],
    ]);
    expect(nd.links[0]?.id).toMatch(/^tap[0-9a-f]{8}-[0-9a-f]{2}$/);
    expect(nd.networks[0]).toMatchObject({
      type: 'ipv4',
      link: nd.links[0]?.id,
      ip_address: '10.0.2.50',
      netmask: '255.255.255.0',
      routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.0.2.2' }],
      services: [{ type: 'dns', address: '10.0.2.3' }, { type: 'dns', address: '1.1.1.1' }],
    });
    expect(Object.keys(nd.networks[1] ?? {})).toEqual(['id', 'type', 'link', 'network_id']);
    expect(nd.networks[1]).toMatchObject({ type: 'ipv4_dhcp', link: nd.links[1]?.id });
    expect(nd.services.map((s) => s.address)).toEqual(['10.0.2.3', '1.1.1.1', '10.0.3.3']);
  });

  it('is stable for one instance and differs between instances', async () => {
    expect(networkData(await fullInstance())).toEqual(networkData(await fullInstance()));
    const a = networkData(await minimalInstance('a', '11111111-1111-4111-8111-111111111111'));
    const b = networkData(await minimalInstance('b', '22222222-2222-4222-8222-222222222222'));
    expect(a.links[0]?.vif_id).not.toBe(b.links[0]?.vif_id);
  });
});

describe('EC2 meta-data', () => {
  it('grows with the version and renders keys as 0=name', async () => {
    const i = await fullInstance();
    const v1 = ec2MetaData(i, '1.0');
    expect(v1).not.toHaveProperty('local-hostname');
    expect(v1).not.toHaveProperty('placement');
    const v = ec2MetaData(i, '2009-04-04', { guestIp: '169.254.169.15' });
    expect(v).toMatchObject({
      hostname: 'web-1.example.org',
      'local-hostname': 'web-1.example.org',
      'local-ipv4': '169.254.169.15',
      'ami-launch-index': 2,
      placement: { 'availability-zone': 'zone-b' },
      'public-keys': { '0': { _name: '0=alice', 'openssh-key': i.public_keys.alice }, '1': { _name: '1=bob' } },
    });
    expect(v['instance-id']).toMatch(/^i-[0-9a-f]{8}$/);
    expect(v['ami-id']).toMatch(/^ami-[0-9a-f]{8}$/);
  });

  it('takes local-ipv4 from a static first NIC, else leaves it out', async () => {
    expect(ec2MetaData(await fullInstance(), '2009-04-04')['local-ipv4']).toBe('10.0.2.50');
    expect(ec2MetaData(await minimalInstance(), '2009-04-04')).not.toHaveProperty('local-ipv4');
  });
});

describe('config drive tree', () => {
  it('has every version, each file only from the version that introduced it', async () => {
    const files = configDriveFiles(await fullInstance(), { random: seededRandom('t') });
    const has = (p: string) => files.has(p);
    for (const v of [...OPENSTACK_VERSIONS, 'latest']) {
      expect(has(`openstack/${v}/meta_data.json`)).toBe(true);
      expect(has(`openstack/${v}/user_data`)).toBe(true);
      expect(has(`openstack/${v}/password`)).toBe(false);
    }
    expect(has('openstack/2013-04-04/vendor_data.json')).toBe(false);
    expect(has('openstack/2013-10-17/vendor_data.json')).toBe(true);
    expect(has('openstack/2013-10-17/network_data.json')).toBe(false);
    expect(has('openstack/2015-10-15/network_data.json')).toBe(true);
    expect(has('openstack/2016-06-30/vendor_data2.json')).toBe(false);
    expect(has('openstack/2016-10-06/vendor_data2.json')).toBe(true);
    expect([...files.keys()].filter((p) => p.startsWith('ec2/')).sort()).toEqual([
      'ec2/2009-04-04/meta-data.json', 'ec2/2009-04-04/user-data', 'ec2/latest/meta-data.json', 'ec2/latest/user-data',
    ]);
    expect(files.get('openstack/content/0000')?.toString()).toBe('welcome ☃\n');
    expect(files.get('openstack/content/0001')?.toString()).toBe('two');
  });

  it('writes no user_data files without user data', async () => {
    const files = configDriveFiles(await minimalInstance());
    expect([...files.keys()].some((p) => /user[-_]data$/.test(p))).toBe(false);
    expect(openstackVersionFiles(await minimalInstance(), '2018-08-27', true)).toEqual([
      'meta_data.json', 'password', 'vendor_data.json', 'network_data.json', 'vendor_data2.json',
    ]);
  });
});
