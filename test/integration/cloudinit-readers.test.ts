import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfigDrive } from '../../harness/datasource/configdrive.ts';
import type { Instance } from '../../harness/model/instance.ts';
import { configDriveFiles, ec2AmiId, ec2InstanceId, networkData } from '../../harness/datasource/nova-metadata.ts';
import { startMetadataService, type MetadataService } from '../../harness/metadata/service.ts';
import { bytesOf, cloudInitPythonPath, runCloudInitReaders } from '../helpers/cloud-init-package.ts';
import { fullInstance, minimalInstance, seededRandom } from '../helpers/instances.ts';

// cloud-init's own readers (Debian's package, unmodified) are the client: what they return from
// our drives and our service must be exactly the instance's data.

const KNOWN_MACS = { '52:54:00:ab:cd:01': 'ens3', '52:54:00:ab:cd:02': 'ens4', '52:54:00:12:34:56': 'ens3' };
let work: string;
let instance: Instance;

/** What cloud-init's network config v1 must be for fullInstance (static ens3, DHCP ens4). */
const EXPECTED_NETWORK_CONFIG = {
  version: 1,
  config: [
    {
      type: 'physical',
      name: 'ens3',
      mac_address: '52:54:00:ab:cd:01',
      mtu: 1450,
      subnets: [
        {
          type: 'static',
          address: '10.0.2.50',
          netmask: '255.255.255.0',
          routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.0.2.2' }],
          ipv4: true,
        },
      ],
    },
    { type: 'physical', name: 'ens4', mac_address: '52:54:00:ab:cd:02', mtu: null, subnets: [{ type: 'dhcp4' }] },
    { type: 'nameserver', address: '10.0.2.3' },
    { type: 'nameserver', address: '1.1.1.1' },
    { type: 'nameserver', address: '10.0.3.3' },
  ],
};

function expectedDriveMetadata(files: Map<string, Buffer>, version: string) {
  const md = JSON.parse((files.get(`openstack/${version}/meta_data.json`) as Buffer).toString()) as Record<string, unknown>;
  return { ...md, random_seed: { __bytes__: md.random_seed }, 'instance-id': instance.uuid, 'local-hostname': instance.hostname };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cloudprobe-test-ci-'));
  instance = await fullInstance();
  await cloudInitPythonPath(); // download + unpack once (cached) before the timed-out tests
}, 300_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe.each(['iso9660', 'vfat'] as const)('ConfigDriveReader on a %s drive', (format) => {
  it('reads back exactly the instance', async () => {
    const random = () => seededRandom('ci');
    const image = join(work, `drive.${format}`);
    await buildConfigDrive(instance, { format, output: image, random: random() });
    // Extract with real tools (no mounts): xorriso for iso9660, mtools for vfat.
    const dir = join(work, `tree-${format}`);
    await mkdir(dir, { recursive: true });
    if (format === 'iso9660') await execa('xorriso', ['-osirrox', 'on', '-indev', image, '-extract', '/', dir]);
    else await execa('mcopy', ['-s', '-n', '-i', image, '::/openstack', '::/ec2', dir], { env: { MTOOLS_SKIP_CHECK: '1' } });

    const out = await runCloudInitReaders('drive', dir, KNOWN_MACS);
    const files = configDriveFiles(instance, { random: random() });
    const r = out.read_v2 as Record<string, unknown>;
    // cloud-init 22.4 knows versions up to 2018-08-27 and picks that one from our list.
    expect(r.metadata).toEqual(expectedDriveMetadata(files, '2018-08-27'));
    expect(bytesOf((r.metadata as { random_seed: unknown }).random_seed)).toHaveLength(512);
    expect(bytesOf(r.userdata).toString()).toBe(instance.user_data);
    expect(r.vendordata).toEqual(instance.vendor_data);
    expect(r.vendordata2).toEqual(instance.vendor_data2);
    expect(r.networkdata).toEqual(networkData(instance));
    expect(r.dsmode).toBe('local');
    expect(r.version).toBe(2);
    expect(Object.fromEntries(Object.entries(r.files as Record<string, unknown>).map(([k, v]) => [k, bytesOf(v).toString()]))).toEqual({
      '/etc/motd': 'welcome ☃\n',
      '/root/notes.txt': 'two',
    });
    expect(r['ec2-metadata']).toEqual(JSON.parse((files.get('ec2/latest/meta-data.json') as Buffer).toString()));
    expect((r.metadata as Record<string, unknown>).admin_pass).toBe('s3cr3t-Pässword');
    expect(out.network_config).toEqual(EXPECTED_NETWORK_CONFIG);
    expect(out.blocked).toEqual([]);
  });
});

describe('MetadataReader and the ec2 helpers against the metadata service', () => {
  let svc: MetadataService;
  beforeAll(async () => {
    svc = await startMetadataService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('reads back exactly the instance over the OpenStack and EC2 APIs', async () => {
    const ep = await svc.addInstance(instance, { guestIp: '169.254.169.15' });
    const out = await runCloudInitReaders('service', ep.url, KNOWN_MACS);
    const r = out.read_v2 as Record<string, unknown>;
    const md = r.metadata as Record<string, unknown>;
    expect(bytesOf(md.random_seed)).toHaveLength(512);
    expect({ ...md, random_seed: 'x' }).toEqual({
      uuid: instance.uuid,
      meta: { role: 'web', dsmode: 'local' },
      public_keys: instance.public_keys,
      keys: [
        { name: 'alice', type: 'ssh', data: instance.public_keys.alice },
        { name: 'bob', type: 'ssh', data: instance.public_keys.bob },
      ],
      hostname: 'web-1.example.org',
      name: 'web-1',
      launch_index: 2,
      availability_zone: 'zone-b',
      random_seed: 'x',
      project_id: instance.project_id,
      devices: [],
      'instance-id': instance.uuid,
      'local-hostname': 'web-1.example.org',
    });
    expect(bytesOf(r.userdata).toString()).toBe(instance.user_data);
    expect(r.vendordata).toEqual(instance.vendor_data);
    expect(r.vendordata2).toEqual(instance.vendor_data2);
    expect(r.networkdata).toEqual(networkData(instance));
    expect(r.files).toEqual({});
    expect(out.network_config).toEqual(EXPECTED_NETWORK_CONFIG);

    // The EC2 tree, as cloud-init's materializer sees it (leaves as strings, keys by name).
    const ec2 = {
      'ami-id': ec2AmiId(instance),
      'ami-launch-index': '2',
      'ami-manifest-path': 'FIXME',
      'block-device-mapping': { ami: 'vda', root: '/dev/vda' },
      hostname: 'web-1.example.org',
      'instance-action': 'none',
      'instance-id': ec2InstanceId(instance),
      'instance-type': 'm1.small',
      'local-hostname': 'web-1.example.org',
      'local-ipv4': '169.254.169.15',
      placement: { 'availability-zone': 'zone-b' },
      'public-hostname': 'web-1.example.org',
      'public-ipv4': '',
      'public-keys': { alice: instance.public_keys.alice, bob: instance.public_keys.bob },
      'reservation-id': expect.stringMatching(/^r-[0-9a-z]{8}$/),
      'security-groups': 'default',
    };
    expect(r['ec2-metadata']).toEqual(ec2);
    expect(out.ec2_metadata).toEqual(ec2);
    expect(bytesOf(out.ec2_userdata).toString()).toBe(instance.user_data);
    expect(out.blocked).toEqual([]);

    // What the guest-side client fetched, as the service logged it.
    const paths = ep.requests().map((e) => `${e.status} ${e.path}`);
    expect(paths).toEqual(expect.arrayContaining([
      '200 /openstack',
      '200 /openstack/2018-08-27/meta_data.json',
      '200 /openstack/2018-08-27/user_data',
      '200 /openstack/2018-08-27/vendor_data.json',
      '200 /openstack/2018-08-27/vendor_data2.json',
      '200 /openstack/2018-08-27/network_data.json',
      '200 /latest/meta-data/',
      '200 /latest/meta-data/public-keys/',
      '200 /latest/meta-data/public-keys/0/openssh-key',
      '200 /latest/user-data',
    ]));
    expect(paths.filter((p) => !p.startsWith('200 '))).toEqual([]);
    expect(ep.requests().every((e) => /python-requests|Cloud-Init/i.test(e.userAgent ?? ''))).toBe(true);
  });

  it('IMDSv2 required: the cloud-init token flow gets the EC2 tree, a tokenless crawl gets nothing', async () => {
    const v2 = await minimalInstance('v2', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa');
    const ep = await svc.addInstance(v2, { imdsv2: 'required' });
    const out = await runCloudInitReaders('imdsv2', ep.url, KNOWN_MACS);
    expect(out.ec2_metadata).toMatchObject({ 'instance-id': ec2InstanceId(v2), hostname: 'v2.novalocal', placement: { 'availability-zone': 'nova' } });
    expect(out.ec2_metadata_without_token).toEqual({});
    expect(out.blocked).toEqual([]);
    const statuses = ep.requests().map((e) => `${e.method} ${e.status} ${e.path}`);
    expect(statuses[0]).toBe('PUT 200 /latest/api/token');
    expect(statuses).toContain('GET 401 /latest/meta-data/');
  });

  it("DataSourceEc2 on an AWS-identified guest, IMDSv2 optional: reads the instance, warns only about the missing network key", async () => {
    const aws: Instance = { ...instance, uuid: 'cccccccc-cccc-4ccc-8ccc-cccccccccccc' };
    const ep = await svc.addInstance(aws, { imdsv2: 'optional', guestIp: '169.254.169.15' });
    const out = await runCloudInitReaders('ec2-datasource', ep.url, KNOWN_MACS);
    expect(out.found).toBe(true);
    expect(out.cloud_name).toBe('aws');
    // nova serves no 2016+ versions: cloud-init settles on 2009-04-04.
    expect(out.api_version).toBe('2009-04-04');
    expect(out.instance_id).toBe(ec2InstanceId(aws));
    expect(out.identity).toMatchObject({ instanceId: ec2InstanceId(aws), imageId: ec2AmiId(aws), availabilityZone: 'zone-b', region: 'RegionOne', privateIp: '169.254.169.15' });
    expect(out.region).toBe('RegionOne');
    expect(out.availability_zone).toBe('zone-b');
    expect([...(out.public_keys as string[])].sort()).toEqual([instance.public_keys.alice, instance.public_keys.bob].sort());
    expect(bytesOf(out.userdata).toString()).toBe(instance.user_data);
    // No network/ key in nova's EC2 tree: no network config from the datasource (cloud-init falls
    // back to DHCP on the first NIC), and that one WARNING is the only problem logged.
    expect(out.network_config).toBeNull();
    expect(out.problems).toEqual(["Metadata 'network' key not valid: None."]);
    expect(out.blocked).toEqual([]);
    const requests = ep.requests().map((e) => `${e.method} ${e.status} ${e.path}`);
    expect(requests[0]).toBe('PUT 200 /latest/api/token');
    expect(requests).toEqual(expect.arrayContaining(['GET 404 /2021-03-23/meta-data/instance-id', 'GET 200 /2009-04-04/meta-data/', 'GET 200 /2009-04-04/dynamic/instance-identity/document']));
    expect(requests.filter((r) => !/ (200|404) /.test(r))).toEqual([]);
  });

  it('DataSourceEc2 on an AWS-identified guest, IMDSv2 off (nova): no token, so cloud-init gives up with warnings', async () => {
    const off = await minimalInstance('v1', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb');
    const ep = await svc.addInstance(off, { imdsv2: 'off' });
    const out = await runCloudInitReaders('ec2-datasource', ep.url, KNOWN_MACS);
    expect(out.found).toBe(false);
    expect(out.problems).toEqual(expect.arrayContaining(['Fatal error while requesting Ec2 IMDSv2 API tokens', "IMDS's HTTP endpoint is probably disabled"]));
    expect(ep.requests().map((e) => `${e.method} ${e.status} ${e.path}`)).toEqual(['PUT 404 /latest/api/token']);
  });

  it('a minimal DHCP instance reads back without user data or keys', async () => {
    const tiny = await minimalInstance('tiny', '99999999-9999-4999-8999-999999999999');
    const ep = await svc.addInstance(tiny);
    const out = await runCloudInitReaders('service', ep.url, KNOWN_MACS);
    const r = out.read_v2 as Record<string, unknown>;
    expect(r.userdata).toBe('');
    expect((r.metadata as Record<string, unknown>).uuid).toBe(tiny.uuid);
    expect((r.metadata as Record<string, unknown>).public_keys).toBeUndefined();
    expect(out.network_config).toEqual({
      version: 1,
      config: [{ type: 'physical', name: 'ens3', mac_address: '52:54:00:12:34:56', mtu: null, subnets: [{ type: 'dhcp4' }] }],
    });
    expect(out.ec2_userdata).toBe('');
    expect(out.blocked).toEqual([]);
  });
});
