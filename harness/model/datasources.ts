/**
 * The datasource registry: everything the harness knows about each way a VM gets its metadata,
 * in one entry per datasource. Planning (expectations), the cell runner (drive or service, SMBIOS)
 * and the reports read these entries; nothing else tests a datasource's name. Adding a datasource
 * (e.g. NoCloud) is one entry here plus the module that prepares it (harness/run/datasource-phase.ts).
 */

export const DATASOURCE_KINDS = ['configdrive-iso9660', 'configdrive-vfat', 'metadata-openstack', 'metadata-ec2'] as const;
export type DatasourceKind = (typeof DATASOURCE_KINDS)[number];

export const IMDSV2_MODES = ['off', 'optional', 'required'] as const;
/** IMDSv2 session tokens on the EC2 tree (nova has none; AWS guests need them). */
export type Imdsv2Mode = (typeof IMDSV2_MODES)[number];

/** cloud-init's name for the datasource it settled on (`cloud-init status --long`, cloud-id). */
export type CloudInitDatasourceName = 'ConfigDrive' | 'OpenStack' | 'Ec2';

/** What SMBIOS type 1 says: nova's (system UUID = instance uuid) or an AWS Nitro instance's. */
export type SmbiosFlavour = 'nova' | 'aws';

export interface SmbiosIdentity {
  uuid: string;
  manufacturer?: string;
  product?: string;
  family?: string;
}

export type DatasourceTransport =
  /** nova's config drive (`config-2`): iso9660 attached as a cdrom, vfat as a disk; `file` is its name in the work dir. */
  | { kind: 'drive'; format: 'iso9660' | 'vfat'; file: string }
  /** The metadata service at 169.254.169.254; `api` is the tree cloud-init reads. */
  | { kind: 'service'; api: 'openstack' | 'ec2' };

export interface DatasourceDef {
  kind: DatasourceKind;
  transport: DatasourceTransport;
  cloudInitName: CloudInitDatasourceName;
  /**
   * Whether cloud-init renders the datasource's network configuration. Config drives and the
   * OpenStack metadata service carry network_data.json (cloud-init's `apply_network_config`
   * defaults to true); the EC2 API has none, so cloud-init falls back to DHCP on the first NIC only.
   */
  carriesNetworkData: boolean;
  smbios: SmbiosFlavour;
  /**
   * Paths cloud-init fetches by default, for the metadata-requests probe. The OpenStack datasource
   * reads the version listing, then the newest version it knows that the service offers —
   * 2018-08-27 for every cloud-init up to now (seen in a Debian 12 boot's request log), never
   * `latest`. A case can list its own with `metadata_requests`.
   */
  defaultMetadataRequests?: readonly string[];
}

export const DATASOURCES: Readonly<Record<DatasourceKind, DatasourceDef>> = {
  'configdrive-iso9660': {
    kind: 'configdrive-iso9660',
    transport: { kind: 'drive', format: 'iso9660', file: 'config-2.iso' },
    cloudInitName: 'ConfigDrive',
    carriesNetworkData: true,
    smbios: 'nova',
  },
  'configdrive-vfat': {
    kind: 'configdrive-vfat',
    transport: { kind: 'drive', format: 'vfat', file: 'config-2.vfat' },
    cloudInitName: 'ConfigDrive',
    carriesNetworkData: true,
    smbios: 'nova',
  },
  'metadata-openstack': {
    kind: 'metadata-openstack',
    transport: { kind: 'service', api: 'openstack' },
    cloudInitName: 'OpenStack',
    carriesNetworkData: true,
    smbios: 'nova',
    defaultMetadataRequests: ['/openstack', '/openstack/2018-08-27/meta_data.json', '/openstack/2018-08-27/network_data.json'],
  },
  'metadata-ec2': {
    kind: 'metadata-ec2',
    transport: { kind: 'service', api: 'ec2' },
    cloudInitName: 'Ec2',
    carriesNetworkData: false,
    smbios: 'aws',
  },
};

export function datasourceDef(kind: DatasourceKind): DatasourceDef {
  return DATASOURCES[kind];
}

/** Whether the guest reads this datasource from the metadata service (and so needs 169.254.169.254). */
export function usesMetadataService(kind: DatasourceKind): boolean {
  return DATASOURCES[kind].transport.kind === 'service';
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The DMI system UUID (and serial) an EC2 guest sees: the instance uuid with its first three hex
 * digits replaced by `ec2`. cloud-init identifies AWS only when both start with `ec2` and are
 * equal (ds-identify `ec2_identify_platform`, DataSourceEc2 `identify_aws`); still a valid UUID.
 */
export function ec2SystemUuid(instanceUuid: string): string {
  if (!UUID_RE.test(instanceUuid)) throw new Error(`not a UUID: ${instanceUuid}`);
  return `ec2${instanceUuid.slice(3).toLowerCase()}`;
}

/**
 * What the guest's SMBIOS type 1 says. nova cells: product "OpenStack Nova", system UUID = instance
 * uuid, which cloud-init compares with the instance id. AWS cells look like a Nitro instance: a
 * product naming OpenStack would make ds-identify choose OpenStack, and without an `ec2…` UUID
 * cloud-init treats the platform as unknown (no IMDSv2, a strict_id warning). Ec2 never compares
 * the served `i-…` instance id with DMI.
 */
export function smbiosIdentity(kind: DatasourceKind, instanceUuid: string): SmbiosIdentity {
  if (DATASOURCES[kind].smbios === 'aws') {
    return { uuid: ec2SystemUuid(instanceUuid), manufacturer: 'Amazon EC2', product: 'Amazon EC2' };
  }
  return { uuid: instanceUuid };
}
