import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * neutron's metadata agent → nova: `X-Instance-ID-Signature` is the hex HMAC-SHA256 of the
 * instance id keyed with `metadata_proxy_shared_secret`.
 */
export function signInstanceId(secret: string, instanceId: string): string {
  return createHmac('sha256', secret).update(instanceId, 'utf8').digest('hex');
}

/** Constant-time check, as nova does (secutils.constant_time_compare). */
export function verifyInstanceSignature(secret: string, instanceId: string, signature: string): boolean {
  const expected = Buffer.from(signInstanceId(secret, instanceId), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Header names of nova's proxy chain (lower case, as Node presents them). */
export const H_INSTANCE_ID = 'x-instance-id';
export const H_TENANT_ID = 'x-tenant-id';
export const H_SIGNATURE = 'x-instance-id-signature';
export const H_FORWARDED_FOR = 'x-forwarded-for';
