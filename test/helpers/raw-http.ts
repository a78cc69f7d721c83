import { connect } from 'node:net';

/** A parsed HTTP response, read off a raw loopback socket. */
export interface RawResponse {
  version: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Sends exactly `request` (bytes as written) to 127.0.0.1:port and reads until the server closes. */
export function rawRequest(port: number, request: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect({ host: '127.0.0.1', port }, () => sock.end(request));
    sock.setTimeout(10_000, () => sock.destroy(new Error('timeout waiting for the server to close')));
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

export function parseResponse(raw: Buffer): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no HTTP response header in ${JSON.stringify(raw.toString().slice(0, 200))}`);
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^(HTTP\/\d\.\d) (\d{3})/.exec(statusLine);
  if (!m) throw new Error(`bad status line ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { version: m[1] as string, status: Number(m[2]), headers, body };
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', pos);
    const size = parseInt(b.subarray(pos, eol).toString(), 16);
    if (!size) return Buffer.concat(out);
    out.push(b.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
}

/** `GET path` (or another method) with Connection: close and optional extra headers. */
export function httpRequest(port: number, method: string, path: string, headers: Record<string, string> = {}, body = ''): Promise<RawResponse> {
  const h = { host: 'metadata', connection: 'close', ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers };
  const head = Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return rawRequest(port, `${method} ${path} HTTP/1.1\r\n${head}\r\n${body}`);
}
