import { forwardable, IDENTITY_HEADERS } from '../../metadata/forward-headers.ts';
import { appendFile, rm } from 'node:fs/promises';
import { Agent, createServer, request, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import ipaddr from 'ipaddr.js';
import { allowHalfOpen } from '../../metadata/half-open.ts';
import { H_FORWARDED_FOR, H_INSTANCE_ID, H_SIGNATURE, H_TENANT_ID, signInstanceId } from '../../metadata/signing.ts';
import { lookupInstance, type NeutronDb, type Via } from './instance-lookup.ts';

/**
 * The host side of neutron's metadata path: neutron-metadata-agent on a unix socket. Both
 * haproxys (router and DHCP namespace) forward to it; it finds the instance from the router or
 * network id and X-Forwarded-For (instance-lookup.ts), signs X-Instance-ID with the shared
 * secret and forwards to the nova-like metadata service (harness/metadata/service.ts) on
 * loopback, which serves only correctly signed requests. The socket is the only thing that
 * crosses from the namespaces to the host.
 */

export interface AgentRequestLogEntry {
  /** ISO time the request arrived. */
  time: string;
  method: string;
  path: string;
  /** HTTP status sent to the proxy; 499 when it hung up first. */
  status: number;
  /** The path it came by: `router` (qrouter haproxy, l3-agent) or `dhcp` (qdhcp haproxy, dhcp-agent). */
  via?: Via;
  /** The namespace of that proxy. */
  namespace?: string;
  /** X-Neutron-Router-ID or X-Neutron-Network-ID. */
  resourceId?: string;
  remoteIp?: string;
  instanceId?: string;
  portId?: string;
  /** Why the agent refused (400/404) or nova could not be reached. */
  reason?: string;
  userAgent?: string;
}

export interface MetadataAgentOptions {
  socketPath: string;
  db: NeutronDb;
  /** The nova-like service (loopback). */
  nova: { host: string; port: number };
  /** metadata_proxy_shared_secret, the same as the service's. */
  secret: string;
  /** Router or network id → the namespace of its proxy, for the log. */
  namespaces?: Record<string, string>;
  /** Also append every entry as a JSON line here. */
  logFile?: string;
}

export interface MetadataAgent {
  socketPath: string;
  requests(): AgentRequestLogEntry[];
  /** Resolves once every entry so far is in the log file. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

function one(req: IncomingMessage, name: string): string | undefined {
  const v = req.headersDistinct[name];
  // Several copies (a guest's own plus the proxy's): the proxy's is the last one.
  return v === undefined ? undefined : v[v.length - 1];
}

function refuse(res: ServerResponse, status: number, reason: string): void {
  const body = `${status} ${STATUS_CODES[status] ?? ''}\n\n${reason}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=UTF-8', 'content-length': String(Buffer.byteLength(body)) }).end(body);
}

export async function startMetadataAgent(opts: MetadataAgentOptions): Promise<MetadataAgent> {
  // The nova-like service binds loopback only; forwarding guests' requests anywhere else is a mistake.
  if (!ipaddr.isValid(opts.nova.host) || ipaddr.process(opts.nova.host).range() !== 'loopback') throw new Error(`nova.host: ${opts.nova.host} is not a loopback address`);
  const entries: AgentRequestLogEntry[] = [];
  let writing: Promise<void> = Promise.resolve();
  const record = (e: AgentRequestLogEntry) => {
    entries.push(e);
    if (opts.logFile) {
      const file = opts.logFile;
      writing = writing.then(() => appendFile(file, `${JSON.stringify(e)}\n`)).catch(() => undefined);
    }
  };
  const upstreamAgent = new Agent({ keepAlive: true, maxSockets: 16 });

  const server = createServer((req, res) => {
    const entry: AgentRequestLogEntry = { time: new Date().toISOString(), method: req.method ?? 'GET', path: req.url ?? '/', status: 0 };
    const ua = req.headers['user-agent'];
    if (ua) entry.userAgent = ua;
    // Logged as the answer's head is sent, so the log has it before the guest can have read it;
    // 499 when the proxy hung up before any answer.
    let logged = false;
    const log = (status: number) => {
      if (logged) return;
      logged = true;
      record({ ...entry, status });
    };
    const answer = (status: number, reason: string) => {
      log(status);
      refuse(res, status, reason);
    };
    res.once('close', () => log(res.headersSent ? res.statusCode : 499));

    const found = lookupInstance(opts.db, {
      routerId: one(req, 'x-neutron-router-id'),
      networkId: one(req, 'x-neutron-network-id'),
      forwardedFor: req.headersDistinct[H_FORWARDED_FOR]?.join(', '),
    });
    if (found.via) entry.via = found.via;
    if (found.resourceId) {
      entry.resourceId = found.resourceId;
      const ns = opts.namespaces?.[found.resourceId];
      if (ns) entry.namespace = ns;
    }
    if (found.remoteIp) entry.remoteIp = found.remoteIp;
    if (!found.ok) {
      entry.reason = found.reason;
      req.resume();
      return answer(found.status, found.reason);
    }
    entry.instanceId = found.instanceId;
    entry.portId = found.port.id;

    const headers = forwardable(req.headers, IDENTITY_HEADERS);
    headers[H_FORWARDED_FOR] = found.remoteIp;
    headers[H_INSTANCE_ID] = found.instanceId;
    headers[H_TENANT_ID] = found.tenantId;
    headers[H_SIGNATURE] = signInstanceId(opts.secret, found.instanceId);
    let upstream;
    try {
      upstream = request({ host: opts.nova.host, port: opts.nova.port, method: entry.method, path: entry.path, headers, agent: upstreamAgent }, (up) => {
        log(up.statusCode ?? 502);
        res.writeHead(up.statusCode ?? 502, forwardable(up.headers, new Set()));
        up.pipe(res);
      });
    } catch {
      // A target Node will not send (unescaped characters): the guest asked for nonsense.
      req.resume();
      entry.reason = 'request target not forwardable';
      return answer(400, entry.reason);
    }
    upstream.on('error', (err) => {
      // neutron: "The remote metadata server is temporarily unavailable."
      entry.reason = `metadata service: ${err.message}`;
      if (!res.headersSent) answer(503, `The remote metadata server is temporarily unavailable. (${err.message})`);
      else res.destroy();
    });
    req.pipe(upstream);
  });
  allowHalfOpen(server);
  await rm(opts.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    socketPath: opts.socketPath,
    requests: () => entries.map((e) => ({ ...e })),
    flush: () => writing,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        upstreamAgent.destroy();
      });
      await writing;
      await rm(opts.socketPath, { force: true });
    },
  };
}
