import type { Server } from 'node:http';

/**
 * Answer clients that half-close after sending their request (socat relaying a guest that did
 * `shutdown(SHUT_WR)`, `printf ... | nc`): Node's HTTP server otherwise drops the request on FIN.
 */
export function allowHalfOpen(server: Server): void {
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
}
