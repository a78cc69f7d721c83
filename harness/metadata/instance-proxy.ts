import { Agent, createServer, request } from 'node:http';
import { forwardable, IDENTITY_HEADERS } from './forward-headers.ts';
import type { AddressInfo } from 'node:net';
import { H_FORWARDED_FOR, H_INSTANCE_ID, H_SIGNATURE, H_TENANT_ID } from './signing.ts';
import type { RequestLogEntry } from './request-log.ts';
import { allowHalfOpen } from './half-open.ts';

/**
 * One loopback listener per instance, playing neutron's ns-metadata-proxy + metadata agent: it
 * drops whatever identity headers the guest sent, adds X-Forwarded-For and the signed
 * X-Instance-ID / X-Tenant-ID / X-Instance-ID-Signature of *its* instance, and forwards to the
 * metadata service. A guest can only ever be "its" instance.
 */

export interface InstanceProxyOptions {
  serviceHost: string;
  servicePort: number;
  instanceId: string;
  tenantId: string;
  signature: string;
  forwardedFor: string;
  onRequest: (entry: RequestLogEntry) => void;
}

export interface InstanceProxy {
  port: number;
  close(): Promise<void>;
}

export async function startInstanceProxy(opts: InstanceProxyOptions): Promise<InstanceProxy> {
  // Keep-alive to the service, so a burst of short guest connections reuses a few sockets.
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const server = createServer((req, res) => {
    const time = new Date().toISOString();
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    const userAgent = req.headers['user-agent'];
    // 499 (nginx's "client closed request") when the guest hung up before an answer was sent.
    res.once('close', () => opts.onRequest({ time, method, path: target, status: res.headersSent ? res.statusCode : 499, ...(userAgent ? { userAgent } : {}) }));
    const headers = forwardable(req.headers, IDENTITY_HEADERS);
    headers[H_FORWARDED_FOR] = opts.forwardedFor;
    headers[H_INSTANCE_ID] = opts.instanceId;
    headers[H_TENANT_ID] = opts.tenantId;
    headers[H_SIGNATURE] = opts.signature;
    let upstream;
    try {
      upstream = request({ host: opts.serviceHost, port: opts.servicePort, method, path: target, headers, agent }, (up) => {
        res.writeHead(up.statusCode ?? 502, forwardable(up.headers, new Set()));
        up.pipe(res);
      });
    } catch {
      // A target Node refuses to send on (unescaped characters): the guest asked for nonsense.
      res.writeHead(400, { 'content-type': 'text/plain; charset=UTF-8' }).end('400 Bad Request\n');
      req.resume();
      return;
    }
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain; charset=UTF-8' }).end('502 Bad Gateway\n');
      else res.destroy();
    });
    req.pipe(upstream);
  });
  allowHalfOpen(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
