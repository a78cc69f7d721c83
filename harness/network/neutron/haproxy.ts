import { METADATA_IP, ROUTER_PROXY_PORT } from './model.ts';

/** Which namespace a proxy runs in, and so which header identifies the request's origin. */
export type ProxyVia = { kind: 'router'; routerId: string } | { kind: 'dhcp'; networkId: string };

/**
 * haproxy's configuration as neutron's metadata proxy writes it: in the router namespace it
 * listens on 9697 (behind the iptables REDIRECT) and adds X-Neutron-Router-ID; in the DHCP
 * namespace it listens on 169.254.169.254:80 and adds X-Neutron-Network-ID. Both add
 * X-Forwarded-For and forward over a unix socket to the metadata agent.
 */
export function haproxyConfig(via: ProxyVia, agentSocket: string, pidFile: string): string {
  const bind = via.kind === 'router' ? `0.0.0.0:${ROUTER_PROXY_PORT}` : `${METADATA_IP}:80`;
  const header = via.kind === 'router' ? `X-Neutron-Router-ID ${via.routerId}` : `X-Neutron-Network-ID ${via.networkId}`;
  return `global
    maxconn 1024
    pidfile ${pidFile}

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-server-close
    option forwardfor

listen metadata
    bind ${bind}
    http-request del-header X-Neutron-Router-ID
    http-request del-header X-Neutron-Network-ID
    http-request set-header ${header}
    server metadata unix@${agentSocket}
`;
}
