import { randomBytes } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Imdsv2Mode } from '../model/datasources.ts';
import type { Instance } from '../model/instance.ts';
import { addressOf } from '../util/ipv4.ts';
import { parseTtl, TOKEN_HEADER, TOKEN_TTL_HEADER, TokenStore } from './imds-tokens.ts';
import { startInstanceProxy, type InstanceProxy } from './instance-proxy.ts';
import { lookup, normalizeRequestPath, rootListing, TEXT, type Resource } from './nova-routes.ts';
import { allowHalfOpen } from './half-open.ts';
import { RequestLog, type RequestLogEntry } from './request-log.ts';
import { H_INSTANCE_ID, H_SIGNATURE, H_TENANT_ID, signInstanceId, verifyInstanceSignature } from './signing.ts';

export type { RequestLogEntry } from './request-log.ts';

/**
 * A metadata service shaped like nova-api-metadata behind neutron's proxy chain. The service
 * knows an instance only by the signed X-Instance-ID/X-Tenant-ID headers; each instance gets a
 * loopback proxy listener that adds them (see instance-proxy.ts). Binds to 127.0.0.1 only.
 */

export type { Imdsv2Mode } from '../model/datasources.ts';

/** nova password.py: 4 chunks of 255 characters. */
export const PASSWORD_MAX_BYTES = 4 * 255;

export interface StartMetadataServiceOptions {
  /** metadata_proxy_shared_secret; random when absent. */
  secret?: string;
  host?: '127.0.0.1';
  /** Service port; 0/absent picks a free one. */
  port?: number;
  /** When given, every request is also appended to `<logDir>/<uuid>.metadata.jsonl`. */
  logDir?: string;
}

export interface AddInstanceOptions {
  imdsv2?: Imdsv2Mode;
  /** The guest's address as the proxy sees it (X-Forwarded-For, EC2 local-ipv4). */
  guestIp?: string;
}

export interface InstanceEndpoint {
  uuid: string;
  /** Where a guest's metadata traffic is forwarded to (the per-instance proxy). */
  url: string;
  port: number;
  requests(): RequestLogEntry[];
}

export interface MetadataService {
  serviceUrl: string;
  port: number;
  secret: string;
  addInstance(instance: Instance, opts?: AddInstanceOptions): Promise<InstanceEndpoint>;
  removeInstance(uuid: string): Promise<void>;
  close(): Promise<void>;
}

interface InstanceRecord {
  instance: Instance;
  imdsv2: Imdsv2Mode;
  guestIp?: string;
  password?: string;
  tokens: TokenStore;
  proxy: InstanceProxy;
  log: RequestLog;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: Buffer | string, contentType = TEXT, headers: Record<string, string> = {}): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { 'content-type': contentType, 'content-length': String(buf.length), ...headers });
  res.end(buf);
}

/** webob-style error body: status line, explanation. */
function sendError(res: ServerResponse, err: HttpError): void {
  send(res, err.status, `${err.status} ${STATUS_CODES[err.status] ?? ''}\n\n${err.message}\n\n   `, TEXT, err.headers);
}

function single(req: IncomingMessage, name: string): string | undefined {
  const values = req.headersDistinct[name];
  if (values === undefined) return undefined;
  if (values.length > 1) throw new HttpError(400, `Multiple ${name} headers found within request.`);
  return values[0];
}

function allowedMethods(resource: Resource): string[] {
  switch (resource.kind) {
    case 'password':
      return ['GET', 'HEAD', 'POST'];
    case 'token':
      return ['PUT'];
    default:
      return ['GET', 'HEAD'];
  }
}

/** How much of a refused body is still read (and dropped) so that the answer reaches the client. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;

/**
 * The body if it is at most `limit` bytes, else undefined — after reading (and dropping) the rest,
 * up to DRAIN_MAX_BYTES: a reply sent while a proxy still writes the body makes the proxy's write
 * fail, and the guest would get the proxy's 502 instead of nova's 400. Beyond that the connection
 * is cut. (No for-await: leaving that loop early destroys the request.)
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (size > DRAIN_MAX_BYTES) {
        req.socket.destroy();
        resolve(undefined);
      }
    });
    req.once('end', () => resolve(size <= limit ? Buffer.concat(chunks) : undefined));
    req.on('error', reject);
  });
}

export async function startMetadataService(opts: StartMetadataServiceOptions = {}): Promise<MetadataService> {
  const host = opts.host ?? '127.0.0.1';
  const secret = opts.secret ?? randomBytes(24).toString('hex');
  const records = new Map<string, InstanceRecord>();

  /** nova handler._handle_instance_id_request: missing → 400, bad signature → 403, unknown/tenant mismatch → 404. */
  function identify(req: IncomingMessage): InstanceRecord {
    const instanceId = single(req, H_INSTANCE_ID);
    const signature = single(req, H_SIGNATURE);
    const tenantId = single(req, H_TENANT_ID);
    if (instanceId === undefined) throw new HttpError(400, 'X-Instance-ID header is missing from request.');
    if (signature === undefined) throw new HttpError(400, 'X-Instance-ID-Signature header is missing from request.');
    if (tenantId === undefined) throw new HttpError(400, 'X-Tenant-ID header is missing from request.');
    if (!verifyInstanceSignature(secret, instanceId, signature)) throw new HttpError(403, 'Invalid proxy request signature.');
    const record = records.get(instanceId);
    if (!record || record.instance.project_id !== tenantId) throw new HttpError(404, 'The resource could not be found.');
    return record;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const target = normalizeRequestPath(req.url ?? '/');
    if (target.status === 400) throw new HttpError(400, target.message);
    const record = target.api === 'root' ? undefined : identify(req);
    const resource = record
      ? lookup(target.path, { instance: record.instance, imdsv2: record.imdsv2 !== 'off', ...(record.guestIp ? { guestIp: record.guestIp } : {}) })
      : rootListing();
    if (!resource) throw new HttpError(404, 'The resource could not be found.');
    const allowed = allowedMethods(resource);
    if (!allowed.includes(method)) throw new HttpError(405, `The method ${method} is not allowed for this resource.`, { allow: allowed.join(', ') });

    if (record && target.api === 'ec2' && resource.kind !== 'token' && record.imdsv2 !== 'off') {
      const token = req.headers[TOKEN_HEADER];
      const ok = record.tokens.valid(token);
      if (!ok && (token !== undefined || record.imdsv2 === 'required')) throw new HttpError(401, 'A valid IMDSv2 session token is required.');
    }

    if (resource.kind === 'data') return send(res, 200, resource.body, resource.contentType);
    if (!record) throw new HttpError(404, 'The resource could not be found.');
    if (resource.kind === 'token') {
      const ttl = parseTtl(req.headers[TOKEN_TTL_HEADER]);
      if (ttl === undefined) throw new HttpError(400, `${TOKEN_TTL_HEADER} must be an integer from 1 to 21600.`);
      return send(res, 200, record.tokens.issue(ttl), TEXT, { [TOKEN_TTL_HEADER]: String(ttl) });
    }
    // password (nova password.py): GET returns it; POST sets it once, up to 4×255 characters.
    if (method !== 'POST') return send(res, 200, record.password ?? '');
    if (record.password) throw new HttpError(409, 'The password has already been set.');
    const declared = Number(req.headers['content-length'] ?? 0);
    // Read even when the declared length is already too much: the answer must reach the guest.
    const body = await readBody(req, declared > PASSWORD_MAX_BYTES ? -1 : PASSWORD_MAX_BYTES);
    if (body === undefined) throw new HttpError(400, 'Request is too large.');
    record.password = body.toString('utf8');
    return send(res, 200, '');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof HttpError) {
        // Do not keep reading a body we refused (e.g. an oversized password).
        if (err.status === 400 || err.status === 405) res.setHeader('connection', 'close');
        return sendError(res, err);
      }
      sendError(res, new HttpError(500, 'An unknown error has occurred. Please try your request again.'));
    });
  });
  allowHalfOpen(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const serviceUrl = `http://${host}:${port}`;

  async function removeInstance(uuid: string): Promise<void> {
    const record = records.get(uuid);
    if (!record) return;
    records.delete(uuid);
    record.tokens.close();
    await record.proxy.close();
    await record.log.flush();
  }

  return {
    serviceUrl,
    port,
    secret,
    async addInstance(instance, addOpts = {}) {
      if (records.has(instance.uuid)) throw new Error(`instance ${instance.uuid} is already served`);
      const log = new RequestLog(opts.logDir ? join(opts.logDir, `${instance.uuid}.metadata.jsonl`) : undefined);
      const staticIp = instance.nics[0]?.mode === 'static' ? instance.nics[0].address && addressOf(instance.nics[0].address) : undefined;
      const proxy = await startInstanceProxy({
        serviceHost: host,
        servicePort: port,
        instanceId: instance.uuid,
        tenantId: instance.project_id,
        signature: signInstanceId(secret, instance.uuid),
        forwardedFor: addOpts.guestIp ?? staticIp ?? '127.0.0.1',
        onRequest: (e) => log.add(e),
      });
      records.set(instance.uuid, {
        instance,
        imdsv2: addOpts.imdsv2 ?? 'off',
        ...(addOpts.guestIp ? { guestIp: addOpts.guestIp } : {}),
        tokens: new TokenStore(),
        proxy,
        log,
      });
      return { uuid: instance.uuid, url: `http://127.0.0.1:${proxy.port}`, port: proxy.port, requests: () => log.list() };
    },
    removeInstance,
    async close() {
      await Promise.all([...records.keys()].map(removeInstance));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
