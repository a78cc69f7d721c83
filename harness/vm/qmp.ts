import { connect, type Socket } from 'node:net';

/** A minimal QMP client: line-delimited JSON over QEMU's unix socket, one command at a time. */
export class QmpClient {
  private buffer = '';
  private waiting: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  private greeting?: { resolve: () => void; reject: (e: Error) => void };
  readonly events: { event: string; data?: unknown }[] = [];
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => this.failAll(new Error('QMP connection closed')));
    socket.on('error', (err) => this.failAll(err));
  }

  /** Connects, waits for the greeting and enters command mode. */
  static async connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new QmpClient(socket);
    const timer = setTimeout(() => client.failAll(new Error(`no QMP greeting on ${path} within ${timeoutMs} ms`)), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => (client.greeting = { resolve, reject }));
      await client.execute('qmp_capabilities');
    } catch (err) {
      client.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('QMP connection closed'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    });
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if ('QMP' in msg) {
        this.greeting?.resolve();
        this.greeting = undefined;
      } else if ('event' in msg) {
        this.events.push({ event: String(msg.event), data: msg.data });
      } else if ('return' in msg || 'error' in msg) {
        const w = this.waiting.shift();
        if (!w) continue;
        if ('error' in msg) {
          const e = msg.error as { class?: string; desc?: string };
          w.reject(new Error(`QMP error ${e.class ?? ''}: ${e.desc ?? JSON.stringify(e)}`));
        } else w.resolve(msg.return);
      }
    }
  }

  private failAll(err: Error): void {
    this.closed = true;
    this.greeting?.reject(err);
    this.greeting = undefined;
    for (const w of this.waiting.splice(0)) w.reject(err);
  }
}
