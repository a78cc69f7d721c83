import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { rm } from 'node:fs/promises';
import { contains } from '../../util/ipv4.ts';
import type { CleanupStack } from '../../util/cleanup-stack.ts';
import type { NeutronNetwork, Port } from './model.ts';

/**
 * The metadata agent, as neutron's: haproxy (router or DHCP namespace) hands it a request with
 * X-Forwarded-For and X-Neutron-Router-ID or X-Neutron-Network-ID over a unix socket; it finds the
 * instance — router → its subnets, or network → its subnet; source IP → port → instance — signs
 * the instance id for nova and forwards to the metadata service.
 */

export interface AgentTopology {
  networks: readonly NeutronNetwork[];
  ports: readonly { networkId: string; port: Port }[];
}

export type Lookup = { ok: true; port: Port; via: 'router' | 'dhcp'; networkId: string } | { ok: false; status: 400 | 404; reason: string };

/** Pure: which port (and so instance) a proxied request comes from. */
export function lookupInstance(headers: Record<string, string | string[] | undefined>, topology: AgentTopology): Lookup {
  const one = (h: string) => {
    const v = headers[h];
    return Array.isArray(v) ? v[0] : v;
  };
  // haproxy's forwardfor appends: the guest is the first hop.
  const source = one('x-forwarded-for')?.split(',')[0]?.trim();
  const routerId = one('x-neutron-router-id');
  const networkId = one('x-neutron-network-id');
  if (!source) return { ok: false, status: 400, reason: 'no X-Forwarded-For' };
  if (!routerId && !networkId) return { ok: false, status: 400, reason: 'neither X-Neutron-Router-ID nor X-Neutron-Network-ID' };
  const networks = routerId ? topology.networks.filter((n) => n.routerId === routerId && n.routerAttached) : topology.networks.filter((n) => n.id === networkId);
  if (networks.length === 0) return { ok: false, status: 404, reason: routerId ? `router ${routerId} has no attached subnet` : `unknown network ${networkId}` };
  for (const net of networks) {
    if (!contains(net.subnet.cidr, source)) continue;
    const hit = topology.ports.find((p) => p.networkId === net.id && p.port.ip === source);
    if (hit) return { ok: true, port: hit.port, via: routerId ? 'router' : 'dhcp', networkId: net.id };
  }
  return { ok: false, status: 404, reason: `no port with address ${source} on ${routerId ? `router ${routerId}'s subnets` : `network ${networkId}`}` };
}

export interface AgentRequest {
  time: string;
  method: string;
  path: string;
  status: number;
  /** Which proxy the request came through: the router namespace or the DHCP namespace. */
  via?: 'router' | 'dhcp';
  source?: string;
  instanceId?: string;
  reason?: string;
}

export interface MetadataAgent {
  socket: string;
  requests(): AgentRequest[];
}

export async function startMetadataAgent(opts: {
  socket: string;
  topology: AgentTopology;
  service: { host: string; port: number; secret: string };
  sign: (secret: string, instanceId: string) => string;
  cleanup: CleanupStack;
}): Promise<MetadataAgent> {
  const log: AgentRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const entry: AgentRequest = { time: new Date().toISOString(), method: req.method ?? 'GET', path: req.url ?? '/', status: 0 };
    log.push(entry);
    res.once('close', () => (entry.status = res.statusCode));
    const found = lookupInstance(req.headers, opts.topology);
    entry.source = String(req.headers['x-forwarded-for'] ?? '').split(',')[0]?.trim();
    if (!found.ok) {
      entry.reason = found.reason;
      req.resume();
      res.writeHead(found.status, { 'content-type': 'text/plain; charset=UTF-8' }).end(`${found.status} ${found.reason}\n`);
      return;
    }
    entry.via = found.via;
    entry.instanceId = found.port.instanceId;
    const headers = { ...req.headers };
    for (const h of ['x-instance-id', 'x-tenant-id', 'x-instance-id-signature', 'x-neutron-router-id', 'x-neutron-network-id', 'connection']) delete headers[h];
    const upstream = request(
      {
        host: opts.service.host,
        port: opts.service.port,
        method: req.method,
        path: req.url,
        headers: {
          ...headers,
          'x-forwarded-for': entry.source,
          'x-instance-id': found.port.instanceId,
          'x-tenant-id': found.port.tenantId,
          'x-instance-id-signature': opts.sign(opts.service.secret, found.port.instanceId),
        },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end('502 Bad Gateway\n')));
    req.pipe(upstream);
  });
  await rm(opts.socket, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.socket, () => resolve());
  });
  opts.cleanup.defer('stop the metadata agent', async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await rm(opts.socket, { force: true });
  });
  return { socket: opts.socket, requests: () => [...log] };
}
