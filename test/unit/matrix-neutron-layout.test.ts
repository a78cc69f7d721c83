import { describe, expect, it } from 'vitest';
import { networkData } from '../../harness/datasource/nova-metadata.ts';
import { ManifestSchema } from '../../harness/images/manifest.ts';
import { parseCase } from '../../harness/plan/case-file.ts';
import { planCases, skipUnavailableBackends, type ImageInfo } from '../../harness/plan/planner.ts';
import { UserError } from '../../harness/util/errors.ts';

const deb: ImageInfo = {
  manifest: ManifestSchema.parse({
    name: 'deb',
    description: 'deb',
    source: { kind: 'build', recipe: 'deb' },
    format: 'qcow2',
    boot: { type: 'bios-disk' },
    default_user: 'ubuntu',
    min_ram_mib: 512,
    nic_naming: 'eth0',
    network_renderer: 'eni',
  }),
};
const lookup = (n: string) => (n === 'deb' ? deb : undefined);
const creds = { sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKEY run', password: 'Secr3tPassw0rdXYZ' };

const CASE = `name: nt
images: [deb]
datasources: [metadata-openstack, configdrive-iso9660, { kind: metadata-ec2, imdsv2: optional }]
networks:
  - dhcp
  - label: dhcp-agent
    networks:
      - { name: private, metadata: dhcp-agent, subnet: { cidr: 172.16.11.0/24 } }
    nics: [{ network: private, fixed_ip: 172.16.11.26 }]
    datasources: [metadata-openstack]
  - label: l3-agent
    networks:
      - { name: private, router: true, subnet: { cidr: 172.16.11.0/24, dns_nameservers: [8.8.8.8] } }
    nics: [private]
    datasources: [metadata-openstack]
  - label: no-dhcp
    networks:
      - name: private
        mtu: 1450
        router: r1
        subnet:
          cidr: 172.16.11.0/24
          enable_dhcp: false
          dns_nameservers: [172.16.11.1]
          host_routes: [{ destination: 10.9.0.0/16, nexthop: 172.16.11.254 }]
    nics: [{ network: private, fixed_ip: 172.16.11.26 }]
    datasources: [configdrive-iso9660, metadata-openstack]
    expect:
      failure: { modes: [metadata-unreachable], nics: [{ state: no-address }] }
  - label: two
    networks:
      - { name: private, router: true, subnet: { cidr: 172.16.11.0/24 } }
      - { name: data, mtu: 1400, subnet: { cidr: 172.16.12.0/24, gateway_ip: null } }
    nics: [private, data]
    datasources: [metadata-ec2-imdsv2-optional, configdrive-iso9660]
instance:
  name: cloud
  hostname: cloud.yunshan.net
expect:
  hostname: cloud
`;

async function plan(text = CASE) {
  return planCases([parseCase(text, '/cases/nt.yaml')], lookup, creds);
}

describe('neutron layouts in case files', () => {
  it('puts layouts on the neutron backend and shorthands on user networking, honouring per-layout datasources', async () => {
    const p = await plan();
    const ids = p.cells.map((c) => c.id);
    expect(ids).toEqual([
      'nt/deb/configdrive-iso9660/dhcp',
      'nt/deb/configdrive-iso9660/no-dhcp',
      'nt/deb/configdrive-iso9660/two',
      'nt/deb/metadata-ec2-imdsv2-optional/dhcp',
      'nt/deb/metadata-ec2-imdsv2-optional/two',
      'nt/deb/metadata-openstack/dhcp',
      'nt/deb/metadata-openstack/dhcp-agent',
      'nt/deb/metadata-openstack/l3-agent',
      'nt/deb/metadata-openstack/no-dhcp',
    ]);
    const byId = new Map(p.cells.map((c) => [c.id, c]));
    expect(byId.get('nt/deb/metadata-openstack/dhcp')!.networkBackend).toBe('user');
    expect(byId.get('nt/deb/metadata-openstack/dhcp')!.topology).toBeUndefined();
    const agent = byId.get('nt/deb/metadata-openstack/dhcp-agent')!;
    expect(agent.networkBackend).toBe('neutron');
    expect(agent.topology!.ports).toEqual([expect.objectContaining({ network: 'private', fixed_ip: '172.16.11.26', device_id: agent.instance.uuid, tenant_id: 'cloudprobe' })]);
  });

  it('derives where metadata must come from: the DHCP port on a dhcp-agent network, the gateway on a routed one', async () => {
    const byId = new Map((await plan()).cells.map((c) => [c.id, c]));
    expect(byId.get('nt/deb/metadata-openstack/dhcp-agent')!.expectations.metadataPath).toEqual({ via: 'dhcp', nextHop: '172.16.11.2' });
    expect(byId.get('nt/deb/metadata-openstack/l3-agent')!.expectations.metadataPath).toEqual({ via: 'router', nextHop: '172.16.11.1' });
    // A config drive reads no metadata service: nothing to expect of the path.
    expect(byId.get('nt/deb/configdrive-iso9660/two')!.expectations.metadataPath).toBeUndefined();
  });

  it('allocates addresses like neutron: gateway .1, DHCP port next, then the instance', async () => {
    const byId = new Map((await plan()).cells.map((c) => [c.id, c]));
    const nic = byId.get('nt/deb/metadata-openstack/l3-agent')!.instance.nics[0]!;
    // l3-agent network: .1 router, .2 DHCP port, .3 the first free one for the VM.
    expect(nic).toMatchObject({ mode: 'dhcp', address: '172.16.11.3/24', gateway: '172.16.11.1', dns: ['8.8.8.8'] });
  });

  it('renders network_data.json as nova does: ipv4 with default route then host routes on a DHCP-less subnet, link MTU only there', async () => {
    const byId = new Map((await plan()).cells.map((c) => [c.id, c]));
    const cell = byId.get('nt/deb/configdrive-iso9660/no-dhcp')!;
    const nd = networkData(cell.instance);
    const nic = cell.instance.nics[0]!;
    expect(nd.links).toEqual([{ id: `tap${nic.port_id!.slice(0, 11)}`, vif_id: nic.port_id, type: 'ovs', mtu: 1450, ethernet_mac_address: nic.mac }]);
    expect(nd.networks).toEqual([
      {
        id: 'network0',
        type: 'ipv4',
        link: nd.links[0]!.id,
        ip_address: '172.16.11.26',
        netmask: '255.255.255.0',
        routes: [
          { network: '0.0.0.0', netmask: '0.0.0.0', gateway: '172.16.11.1' },
          { network: '10.9.0.0', netmask: '255.255.0.0', gateway: '172.16.11.254' },
        ],
        network_id: nic.network_id,
        services: [{ type: 'dns', address: '172.16.11.1' }],
      },
    ]);
    expect(nd.services).toEqual([{ type: 'dns', address: '172.16.11.1' }]);

    const two = networkData(byId.get('nt/deb/configdrive-iso9660/two')!.instance);
    // DHCP subnets: ipv4_dhcp and a null MTU, even where the network has one (the guest learns it by DHCP).
    expect(two.networks.map((n) => n.type)).toEqual(['ipv4_dhcp', 'ipv4_dhcp']);
    expect(two.links.map((l) => l.mtu)).toEqual([null, null]);
    expect(new Set(two.networks.map((n) => n.network_id)).size).toBe(2);
  });

  it('judges a layout meant to fail from the console only, with the NIC states in NIC order', async () => {
    const byId = new Map((await plan()).cells.map((c) => [c.id, c]));
    const cell = byId.get('nt/deb/metadata-openstack/no-dhcp')!;
    expect(cell.expectations).toEqual({
      failure: { modes: ['metadata-unreachable'], nics: [{ mac: cell.instance.nics[0]!.mac, state: 'no-address' }], hostname: 'cloud' },
    });
  });

  it('derives NIC expectations from the datasource: the EC2 API has no network data, so NIC 2 stays unconfigured', async () => {
    const byId = new Map((await plan()).cells.map((c) => [c.id, c]));
    expect(byId.get('nt/deb/metadata-ec2-imdsv2-optional/two')!.expectations.nics!.map((n) => n.mode)).toEqual(['dhcp', 'unconfigured']);
    expect(byId.get('nt/deb/configdrive-iso9660/two')!.expectations.nics!.map((n) => n.mode)).toEqual(['dhcp', 'dhcp']);
  });

  it('points a bad layout at its file, line and field', async () => {
    const bad = CASE.replace('fixed_ip: 172.16.11.26 }]\n    datasources: [metadata-openstack]\n  - label: l3-agent', 'fixed_ip: 172.16.12.26 }]\n    datasources: [metadata-openstack]\n  - label: l3-agent');
    const err = await plan(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/^\/cases\/nt\.yaml:9:\d+: network layout dhcp-agent: nics\[0\]\.fixed_ip: 172\.16\.12\.26 is not a host address of 172\.16\.11\.0\/24$/);
  });

  it('refuses a NIC on a network the layout does not define, and an unknown datasource label', () => {
    expect(() => parseCase(CASE.replace('nics: [private, data]', 'nics: [private, dta]'), '/cases/nt.yaml')).toThrow(/nt\.yaml:\d+:\d+: .*"dta" is not a network of this layout \(private, data\)/);
    expect(() => parseCase(CASE.replace('datasources: [configdrive-iso9660, metadata-openstack]', 'datasources: [configdrive-iso]'), '/cases/nt.yaml')).toThrow(/"configdrive-iso" is not in datasources/);
  });

  it('skips cells on a backend that cannot run here, with the reason, never moving them to another backend', async () => {
    const p = skipUnavailableBackends(await plan(), { neutron: 'needs root' });
    expect(p.cells.every((c) => c.networkBackend === 'user')).toBe(true);
    expect(p.cells).toHaveLength(3);
    const skipped = p.skipped.find((s) => s.id === 'nt/deb/metadata-openstack/dhcp-agent')!;
    expect(skipped).toMatchObject({ kind: 'unavailable', reason: 'the neutron network backend cannot run here: needs root' });
    expect(p.skipped).toHaveLength(6);
  });
});
