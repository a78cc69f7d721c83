import { connect } from 'node:net';

/**
 * Reads the server's SSH identification string (`SSH-2.0-…`). A bare TCP accept proves nothing:
 * slirp's hostfwd accepts before the guest's sshd listens, then closes the connection.
 */
export function readSshBanner(host: string, port: number, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let data = '';
    const finish = (err?: Error, banner?: string) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(banner!);
    };
    const timer = setTimeout(() => finish(new Error(`no SSH banner from ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
      // RFC 4253 4.2: the server may send other lines before the identification string.
      for (const line of data.split(/\r?\n/).slice(0, -1)) {
        if (line.startsWith('SSH-')) return finish(undefined, line);
      }
      if (data.length > 8192) finish(new Error(`${host}:${port} sent 8 KiB without an SSH identification string`));
    });
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error(`${host}:${port} closed the connection before an SSH banner${data ? ` (got ${JSON.stringify(data.slice(0, 80))})` : ''}`)));
  });
}
