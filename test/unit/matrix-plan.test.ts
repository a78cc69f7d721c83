import { describe, expect, it } from 'vitest';
import { ManifestSchema, type ImageManifest } from '../../harness/images/manifest.ts';
import { parseCase } from '../../harness/plan/case-file.ts';
import { planCases, type ImageInfo } from '../../harness/plan/planner.ts';
import { UserError } from '../../harness/util/errors.ts';

function manifest(name: string, extra: Record<string, unknown> = {}): ImageManifest {
  return ManifestSchema.parse({
    name,
    description: name,
    source: { kind: 'build', recipe: name },
    format: 'qcow2',
    boot: { type: 'bios-disk' },
    default_user: name.startsWith('cirros') ? 'cirros' : 'ubuntu',
    min_ram_mib: 512,
    nic_naming: 'eth0',
    network_renderer: 'eni',
    ...extra,
  });
}

const images: Record<string, ImageInfo> = {
  deb: { manifest: manifest('deb') },
  cirros: { manifest: manifest('cirros', { capabilities: { nic_modes: ['dhcp'], cloud_config: false } }) },
  gone: { manifest: manifest('gone'), unavailable: 'image gone is not cached here' },
};
const lookup = (n: string) => images[n];
const creds = { sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKEY run', password: 'Secr3tPassw0rdXYZ' };

const CASE = `name: seed
images: [deb, cirros]
datasources: [configdrive-iso9660, configdrive-vfat, metadata-openstack, { kind: metadata-ec2, imdsv2: required }]
networks: [dhcp, static, multi-nic-dhcp]
exclude:
  - { datasource: configdrive-vfat, network: static }
  - { image: cirros, datasource: metadata-openstack }
  - { network: multi-nic-dhcp, datasource: configdrive-vfat }
instance:
  name: cloud
  hostname: cloud.yunshan.net
  public_keys: { run: "\${SSH_PUBLIC_KEY}" }
  admin_pass: AdminPassw0rd
  user_data: |
    #cloud-config
    chpasswd: { users: [{ name: "\${DEFAULT_USER}", password: "\${PASSWORD}", type: text }] }
expect:
  hostname: cloud
  password_login: [{ user: "\${DEFAULT_USER}", password: "\${PASSWORD}" }]
  authorized_keys: [{ user: root, keys: ["\${SSH_PUBLIC_KEY}"] }]
`;

describe('planner', () => {
  it('expands images × datasources × networks minus excludes into stable, sorted ids', async () => {
    const plan = await planCases([parseCase(CASE, '/cases/seed.yaml')], lookup, creds);
    const all = [...plan.cells.map((c) => c.id), ...plan.skipped.map((s) => s.id)].sort();
    // deb: 4 datasources × 3 networks = 12, minus vfat/static and vfat/multi-nic → 10
    // cirros: 3 datasources (no metadata-openstack) × 3 − 2 vfat excludes → 7
    expect(all).toHaveLength(17);
    expect(all).toContain('seed/deb/metadata-ec2-imdsv2-required/dhcp');
    expect(all).not.toContain('seed/deb/configdrive-vfat/static');
    expect(all.some((id) => id.startsWith('seed/cirros/metadata-openstack/'))).toBe(false);
    expect(plan.cells.map((c) => c.id)).toEqual([...plan.cells.map((c) => c.id)].sort());
  });

  it('skips cells that cannot work, with the reason, and keeps the rest', async () => {
    const plan = await planCases([parseCase(CASE, '/cases/seed.yaml')], lookup, creds);
    const skip = Object.fromEntries(plan.skipped.map((s) => [s.id, s]));
    // EC2 carries no network_data: a static address is never applied, on any image.
    expect(skip['seed/deb/metadata-ec2-imdsv2-required/static']).toMatchObject({ kind: 'inapplicable' });
    // Cirros' profile applies only DHCP.
    expect(skip['seed/cirros/configdrive-iso9660/static']?.reason).toMatch(/cirros applies only dhcp/);
    expect(plan.cells.find((c) => c.id === 'seed/cirros/configdrive-iso9660/dhcp')).toBeDefined();
  });

  it('boots inapplicable cells when the case says inapplicable: run (probes then say n/a)', async () => {
    const plan = await planCases([parseCase(`${CASE}inapplicable: run\n`, '/cases/seed.yaml')], lookup, creds);
    expect(plan.cells.find((c) => c.id === 'seed/cirros/configdrive-iso9660/static')).toBeDefined();
    expect(plan.skipped.find((s) => s.id === 'seed/deb/metadata-ec2-imdsv2-required/static')).toBeDefined();
  });

  it('turns network modes into NICs and per-NIC expectations', async () => {
    const plan = await planCases([parseCase(CASE, '/cases/seed.yaml')], lookup, creds);
    const cell = (id: string) => plan.cells.find((c) => c.id === `seed/deb/${id}`)!;

    const st = cell('configdrive-iso9660/static');
    expect(st.instance.nics).toEqual([{ mac: '52:54:00:12:34:56', mode: 'static', address: '10.0.2.50/24', gateway: '10.0.2.2', dns: ['10.0.2.3'] }]);
    expect(st.expectations.nics).toEqual([{ mac: '52:54:00:12:34:56', mode: 'static', address: '10.0.2.50/24', gateway: '10.0.2.2' }]);
    expect(st.expectations.datasource).toBe('ConfigDrive');

    const dhcp = cell('configdrive-vfat/dhcp');
    expect(dhcp.instance.nics).toEqual([{ mac: '52:54:00:12:34:56', mode: 'dhcp', dns: [] }]);
    expect(dhcp.expectations.nics).toEqual([{ mac: '52:54:00:12:34:56', mode: 'dhcp' }]);

    // Metadata-service guests live on 169.254.169.0/24 (guestfwd must be inside the slirp net).
    const mdStatic = cell('metadata-openstack/static');
    expect(mdStatic.instance.nics[0]).toMatchObject({ address: '169.254.169.50/24', gateway: '169.254.169.2' });
    expect(mdStatic.expectations.datasource).toBe('OpenStack');
    expect(mdStatic.expectations.metadataRequests).toEqual(['/openstack', '/openstack/2018-08-27/meta_data.json', '/openstack/2018-08-27/network_data.json']);

    // Two NICs, distinct MACs: with network_data every NIC is configured…
    const multi = cell('configdrive-iso9660/multi-nic-dhcp');
    expect(multi.instance.nics.map((n) => n.mac)).toEqual(['52:54:00:12:34:56', '52:54:00:12:34:57']);
    expect(multi.expectations.nics?.map((n) => n.mode)).toEqual(['dhcp', 'dhcp']);
    // …without it (EC2 API) cloud-init falls back to DHCP on the first NIC only.
    const ec2 = cell('metadata-ec2-imdsv2-required/multi-nic-dhcp');
    expect(ec2.imdsv2).toBe('required');
    expect(ec2.datasource).toBe('metadata-ec2');
    expect(ec2.expectations.nics?.map((n) => n.mode)).toEqual(['dhcp', 'unconfigured']);
    expect(ec2.expectations.datasource).toBe('Ec2');
    expect(cell('configdrive-iso9660/dhcp').expectations.metadataRequests).toBeUndefined();
  });

  it('substitutes the run key, password and image user, and lists the secrets', async () => {
    const plan = await planCases([parseCase(CASE, '/cases/seed.yaml')], lookup, creds);
    const deb = plan.cells.find((c) => c.id === 'seed/deb/configdrive-iso9660/dhcp')!;
    const cirros = plan.cells.find((c) => c.id === 'seed/cirros/configdrive-iso9660/dhcp')!;
    expect(deb.instance.public_keys).toEqual({ run: creds.sshPublicKey });
    expect(deb.instance.user_data).toContain(`name: "ubuntu", password: "${creds.password}"`);
    expect(cirros.instance.user_data).toContain('name: "cirros"');
    expect(deb.expectations.passwordLogin).toEqual([{ user: 'ubuntu', password: creds.password }]);
    expect(deb.expectations.authorizedKeys).toEqual([{ user: 'root', keys: [creds.sshPublicKey] }]);
    expect(deb.expectations.cleanBoot).toEqual({ allowedRecoverable: [], deprecations: 'warn' });
    expect(deb.secrets).toEqual([creds.password, 'AdminPassw0rd']);
    expect(JSON.stringify(plan.cells)).not.toContain('${');
  });

  it('gives every cell its own instance uuid', async () => {
    const plan = await planCases([parseCase(CASE, '/cases/seed.yaml')], lookup, creds);
    expect(new Set(plan.cells.map((c) => c.instance.uuid)).size).toBe(plan.cells.length);
  });

  it('reports cells of an image that is not here as skipped, with why', async () => {
    const plan = await planCases([parseCase(CASE.replace('images: [deb, cirros]', 'images: [gone, cirros]'), '/cases/seed.yaml')], lookup, creds);
    expect(plan.cells.filter((c) => c.image === 'gone')).toEqual([]);
    expect(plan.skipped.filter((s) => s.kind === 'unavailable').map((s) => s.reason)).toContain('image gone is not cached here');
  });

  it('refuses an unknown image, naming file, line and column', async () => {
    const err = await planCases([parseCase(CASE.replace('images: [deb, cirros]', 'images: [debain, cirros]'), '/cases/seed.yaml')], lookup, creds).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe('/cases/seed.yaml:2:10: images[0]: unknown image "debain" (no images/debain.yaml)');
  });

  it('refuses two cases with cells of the same id', async () => {
    const a = parseCase(CASE, '/cases/a.yaml');
    const b = parseCase(CASE, '/cases/b.yaml');
    await expect(planCases([a, b], lookup, creds)).rejects.toThrow(/two cells share the id seed\//);
  });
});

describe('planner: EC2 without IMDSv2', () => {
  const ec2Case = (ds: string) => `name: ec2
images: [deb, cirros]
datasources: [${ds}]
networks: [dhcp]
instance: { name: ec2 }
expect: { hostname: ec2 }
`;

  it('skips cloud-init images (AWS identity needs tokens) but runs Cirros, which never asks for one', async () => {
    const plan = await planCases([parseCase(ec2Case('metadata-ec2'), '/cases/ec2.yaml')], lookup, creds);
    expect(plan.cells.map((c) => c.id)).toEqual(['ec2/cirros/metadata-ec2/dhcp']);
    const skip = plan.skipped.find((s) => s.id === 'ec2/deb/metadata-ec2/dhcp');
    expect(skip?.kind).toBe('inapplicable');
    expect(skip?.reason).toMatch(/needs IMDSv2 tokens.*imdsv2: optional/);
  });

  it('runs cloud-init images when tokens are optional', async () => {
    const plan = await planCases([parseCase(ec2Case('{ kind: metadata-ec2, imdsv2: optional }'), '/cases/ec2.yaml')], lookup, creds);
    expect(plan.cells.map((c) => c.id).sort()).toEqual(['ec2/cirros/metadata-ec2-imdsv2-optional/dhcp', 'ec2/deb/metadata-ec2-imdsv2-optional/dhcp']);
  });
});

describe('the shipped Cirros case on the shipped Cirros profile', () => {
  it("expects what Cirros does: every NIC by DHCP on EC2, its own datasource name, no fqdn check", async () => {
    const { getManifest } = await import('../../harness/images/manifest.ts');
    const { loadCases } = await import('../../harness/plan/case-file.ts');
    const cirros = await getManifest('cirros-0.6.3');
    expect(cirros.capabilities).toMatchObject({ dhcp_every_nic: true, datasource_source: 'cirros', resolves_fqdn: false });
    // As if the image were cached (a local mirror copy): the plan only needs the manifest.
    const plan = await planCases(await loadCases(['cases/cirros.yaml']), (n) => (n === 'cirros-0.6.3' ? { manifest: cirros } : undefined), creds);
    const ec2Multi = plan.cells.find((c) => c.id === 'cirros/cirros-0.6.3/metadata-ec2/multi-nic-dhcp');
    expect(ec2Multi?.expectations.nics?.map((n) => n.mode)).toEqual(['dhcp', 'dhcp']);
    expect(plan.cells.find((c) => c.id === 'cirros/cirros-0.6.3/configdrive-iso9660/dhcp')?.expectations.datasource).toBe('ConfigDrive');
    // Static cells are skipped with the reason: Cirros applies only DHCP.
    expect(plan.skipped.filter((s) => s.network === 'static').length).toBeGreaterThan(0);
  });
});
