import type { Nic } from '../../../harness/model/instance.ts';
import { resolveInstance } from '../../../harness/model/instance.ts';
import type { CellSpec, DatasourceKind } from '../../../harness/model/cell.ts';
import { datasourceDef, usesMetadataService } from '../../../harness/model/datasources.ts';

/**
 * The seed article's scenario: its #cloud-config (passwords root:1 / ubuntu:1, password SSH,
 * root not disabled, hostname cloud.yunshan.net with /etc/hosts managed, Asia/Shanghai, the run's
 * key, runcmd mkdir /yunshan) and what a correct boot must show.
 */
export function seedUserData(publicKey: string): string {
  return `#cloud-config
chpasswd:
  list: |
    root:1
    ubuntu:1
  expire: false
ssh_pwauth: true
disable_root: false
hostname: cloud
fqdn: cloud.yunshan.net
manage_etc_hosts: true
timezone: Asia/Shanghai
ssh_authorized_keys:
  - ${publicKey}
runcmd:
  - mkdir /yunshan
`;
}

export const MAC = '52:54:00:12:34:56';

export const STATIC_NIC: Nic = { mac: MAC, mode: 'static', address: '10.0.2.50/24', gateway: '10.0.2.2', dns: ['10.0.2.3'] };
export const DHCP_NIC: Nic = { mac: MAC, mode: 'dhcp', dns: [] };

export async function seedCell(opts: { image: string; datasource: DatasourceKind; nic: Nic; publicKey: string; name: string }): Promise<CellSpec> {
  const instance = await resolveInstance(
    {
      name: opts.name,
      hostname: 'cloud.yunshan.net',
      project_id: 'cloudprobe',
      availability_zone: 'nova',
      launch_index: 0,
      meta: {},
      public_keys: { run: opts.publicKey },
      user_data: seedUserData(opts.publicKey),
      vendor_data: {},
      vendor_data2: {},
      files: [],
      nics: [opts.nic],
    },
    '/',
  );
  const network = opts.nic.mode;
  return {
    id: `seed/${opts.image}/${opts.datasource}/${network}`,
    caseName: 'seed',
    image: opts.image,
    datasource: opts.datasource,
    datasourceLabel: opts.datasource,
    imdsv2: 'off',
    networkBackend: 'user',
    network,
    instance,
    expectations: {
      hostname: 'cloud',
      fqdn: 'cloud.yunshan.net',
      etcHosts: { fqdn: 'cloud.yunshan.net', hostname: 'cloud' },
      authorizedKeys: [
        { user: 'ubuntu', keys: [opts.publicKey] },
        { user: 'root', keys: [opts.publicKey] },
      ],
      // root:1 is set too, but Debian's sshd refuses root passwords (PermitRootLogin prohibit-password).
      passwordLogin: [{ user: 'ubuntu', password: '1' }],
      timezone: 'Asia/Shanghai',
      runcmdPaths: ['/yunshan'],
      nics: [{ mac: opts.nic.mac, mode: opts.nic.mode, ...(opts.nic.address ? { address: opts.nic.address } : {}), ...(opts.nic.gateway ? { gateway: opts.nic.gateway } : {}) }],
      datasource: datasourceDef(opts.datasource).cloudInitName,
      ...(usesMetadataService(opts.datasource)
        ? { metadataRequests: ['/openstack/latest/meta_data.json', '/openstack/latest/user_data', '/openstack/latest/network_data.json'] }
        : {}),
      // cloud-init 22.4 warns (three times) that the seed's `chpasswd: list:` multiline form is
      // deprecated: expected for this user data, so allowed; any other warning fails clean-boot.
      cleanBoot: {
        allowedRecoverable: [
          'schema\\.py\\[WARNING\\]: Deprecated cloud-config provided:$',
          "cc_set_passwords\\.py\\[WARNING\\]: DEPRECATION: key 'lists' is now deprecated",
          'cc_set_passwords\\.py\\[WARNING\\]: DEPRECATION: The chpasswd multiline string format is deprecated',
        ],
      },
    },
    secrets: ['1'],
  };
}
