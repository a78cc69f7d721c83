/**
 * haproxy's configuration as neutron's metadata driver writes it
 * (neutron/agent/metadata/driver_base.py and neutron/common/metadata.py): an HTTP listener in
 * the router or DHCP namespace that tags each request with the router or network it came
 * through, adds the client address as X-Forwarded-For and forwards it over a unix socket to the
 * metadata agent. Pure, so every line is unit-tested.
 */

/** The l3-agent's metadata port in qrouter (iptables REDIRECTs 169.254.169.254:80 there). */
export const L3_METADATA_PORT = 9697;
export const DHCP_METADATA_PORT = 80;

export const H_ROUTER_ID = 'X-Neutron-Router-ID';
export const H_NETWORK_ID = 'X-Neutron-Network-ID';

export type ProxyResource = { kind: 'router'; id: string } | { kind: 'network'; id: string };

export interface HaproxyConfigInput {
  bindAddress: string;
  port: number;
  resource: ProxyResource;
  /** The metadata agent's unix socket. */
  socketPath: string;
}

/** haproxy's `server … unix@<path>` takes a path up to sun_path; keep it visible, not truncated. */
const SUN_PATH_MAX = 107;

export function haproxyConfig(input: HaproxyConfigInput): string {
  if (!/^[0-9a-zA-Z-]+$/.test(input.resource.id)) throw new Error(`resource id "${input.resource.id}" is not a plain id`);
  if (input.socketPath.length > SUN_PATH_MAX) throw new Error(`socketPath: ${input.socketPath} is longer than ${SUN_PATH_MAX} bytes (sun_path)`);
  if (/\s/.test(input.socketPath)) throw new Error(`socketPath: ${input.socketPath} contains white space`);
  const [set, del] = input.resource.kind === 'router' ? [H_ROUTER_ID, H_NETWORK_ID] : [H_NETWORK_ID, H_ROUTER_ID];
  return [
    `# neutron-ns-metadata-proxy for ${input.resource.kind} ${input.resource.id}`,
    'global',
    // Foreground (-db) under the harness: the access log goes to stdout, which it keeps in a file.
    '    log         stdout format raw local0 info',
    '    maxconn     1024',
    '',
    'defaults',
    '    log global',
    '    mode http',
    '    option httplog',
    '    option dontlognull',
    '    option http-server-close',
    '    option forwardfor',
    '    retries                 3',
    '    timeout http-request    30s',
    '    timeout connect         30s',
    '    timeout client          32s',
    '    timeout server          32s',
    '    timeout http-keep-alive 30s',
    '',
    'listen listener',
    `    bind ${input.bindAddress}:${input.port}`,
    `    server metadata unix@${input.socketPath}`,
    // neutron (LP #1865036): drop the other resource's header a guest may have sent, so the
    // agent never sees both. A guest's own X-Forwarded-For goes too; `option forwardfor` then
    // adds the real client address (http-request rules run before it).
    `    http-request del-header ${del}`,
    '    http-request del-header X-Forwarded-For',
    `    http-request set-header ${set} ${input.resource.id}`,
    '',
  ].join('\n');
}
