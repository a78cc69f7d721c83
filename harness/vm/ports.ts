import { createServer } from 'node:net';

/**
 * A loopback TCP port that was free a moment ago. Another process may still take it before QEMU
 * binds it; the VM starter retries with a fresh port when QEMU reports the clash.
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
