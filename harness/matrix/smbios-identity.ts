import type { VmSpec } from '../vm/spec.ts';
import type { DatasourceKind } from './cell.ts';

export type SmbiosIdentity = NonNullable<VmSpec['smbios']>;

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
 * What the guest's SMBIOS type 1 says, per datasource. OpenStack cells look like nova (product
 * "OpenStack Nova", system UUID = instance uuid, which cloud-init compares with the instance id).
 * EC2 cells look like a Nitro instance: a product naming OpenStack would make ds-identify choose
 * OpenStack, and without an `ec2…` UUID cloud-init treats the platform as unknown (no IMDSv2, a
 * strict_id warning). Ec2 never compares the served `i-…` instance id with DMI.
 */
export function smbiosIdentity(datasource: DatasourceKind, instanceUuid: string): SmbiosIdentity {
  if (datasource === 'metadata-ec2') {
    return { uuid: ec2SystemUuid(instanceUuid), manufacturer: 'Amazon EC2', product: 'Amazon EC2' };
  }
  return { uuid: instanceUuid };
}
