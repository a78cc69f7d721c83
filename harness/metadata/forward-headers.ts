import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { H_FORWARDED_FOR, H_INSTANCE_ID, H_SIGNATURE, H_TENANT_ID } from './signing.ts';

/** Headers that describe one connection and must not be forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Identity headers only the proxy chain may assert: whatever a guest sends under these names is dropped. */
export const IDENTITY_HEADERS = new Set([H_INSTANCE_ID, H_TENANT_ID, H_SIGNATURE, H_FORWARDED_FOR, 'x-neutron-network-id', 'x-neutron-router-id', 'x-metadata-provider', 'x-metadata-provider-signature']);

/** The headers to pass on: all but hop-by-hop ones and those in `drop`. */
export function forwardable(headers: IncomingHttpHeaders, drop: ReadonlySet<string>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k) && !drop.has(k)) out[k] = v;
  return out;
}
