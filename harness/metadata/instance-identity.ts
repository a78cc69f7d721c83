import { createHash } from 'node:crypto';
import type { Instance } from '../model/instance.ts';
import { ec2AmiId, ec2InstanceId } from '../datasource/nova-metadata.ts';

/**
 * AWS's instance identity document (`/<version>/dynamic/instance-identity/document`). Nova has no
 * `dynamic/` tree, but cloud-init (22.4) on a platform it identified as AWS fetches it on every
 * crawl and, on a 404, retries five times and logs a WARNING (which fails a clean boot). So it is
 * served together with the other AWS extension, IMDSv2. Unsigned: no pkcs7/signature/rsa2048.
 */

/** nova's default region name; AWS would say e.g. us-east-1. */
export const IDENTITY_REGION = 'RegionOne';

export function instanceIdentityDocument(instance: Instance, guestIp?: string): Record<string, unknown> {
  // A 12-digit account id that stands for the project, as AWS's stands for the owner.
  const accountId = (BigInt(`0x${createHash('sha256').update(`${instance.project_id}:account`).digest('hex').slice(0, 15)}`) % 10n ** 12n)
    .toString()
    .padStart(12, '0');
  return {
    accountId,
    architecture: 'x86_64',
    availabilityZone: instance.availability_zone,
    billingProducts: null,
    devpayProductCodes: null,
    marketplaceProductCodes: null,
    imageId: ec2AmiId(instance),
    instanceId: ec2InstanceId(instance),
    instanceType: instance.flavor ?? 'm1.small',
    kernelId: null,
    privateIp: guestIp ?? null,
    ramdiskId: null,
    region: IDENTITY_REGION,
    version: '2017-09-30',
  };
}
