import pRetry, { AbortError } from 'p-retry';
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig } from 'ssh2';

const { Client } = ssh2;

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** OpenSSH private key (key auth). */
  privateKey?: string;
  /** Password (password and keyboard-interactive auth). */
  password?: string;
}

export interface ExecResult {
  command: string;
  /** Exit status; null when the command was ended by a signal or the channel closed without one. */
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

/** The server refused our credentials (as opposed to a network or protocol failure). */
export class SshAuthError extends Error {
  override name = 'SshAuthError';
}

function connectConfig(target: SshTarget, readyTimeoutMs: number): ConnectConfig {
  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.user,
    readyTimeout: readyTimeoutMs,
    keepaliveInterval: 10_000,
    // Throw-away guests have fresh host keys every boot: nothing to verify them against.
    hostVerifier: () => true,
  };
  if (target.privateKey) config.privateKey = target.privateKey;
  if (target.password !== undefined) {
    config.password = target.password;
    config.tryKeyboard = true;
  }
  return config;
}

/** One SSH connection to a guest. */
export class SshSession {
  /** Why the connection ended under us (error or close after login), for the next exec's message. */
  private lost: string | undefined;

  private constructor(
    private readonly client: InstanceType<typeof Client>,
    readonly target: SshTarget,
    readonly banner: string,
  ) {
    // After login an 'error' (ECONNRESET, keepalive timeout) must not go unhandled and kill the
    // process: open channels close on their own, and later execs say why.
    client.on('error', (err: Error) => (this.lost ??= err.message));
    client.on('close', () => (this.lost ??= 'connection closed'));
  }

  /** A single connection attempt; auth failures throw SshAuthError. */
  static connect(target: SshTarget, opts: { readyTimeoutMs?: number } = {}): Promise<SshSession> {
    if (!target.privateKey && target.password === undefined) {
      return Promise.reject(new Error(`no credentials for ${target.user}@${target.host}:${target.port}`));
    }
    return new Promise((resolve, reject) => {
      const client = new Client();
      let banner = '';
      let settled = false;
      client.on('handshake', () => undefined);
      client.on('banner', (msg: string) => (banner += msg));
      client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => {
        finish(prompts.map(() => target.password ?? ''));
      });
      client.once('ready', () => {
        settled = true;
        resolve(new SshSession(client, target, banner));
      });
      // `on`, not `once`: a handshake that times out is followed by a second error ("Connection
      // lost before handshake") when the socket goes, and an unheard 'error' kills the process.
      client.on('error', (err: Error & { level?: string }) => {
        if (settled) return;
        settled = true;
        client.end();
        const where = `${target.user}@${target.host}:${target.port}`;
        reject(err.level === 'client-authentication' ? new SshAuthError(`${where}: authentication refused (${err.message})`) : new Error(`${where}: ${err.message}`));
      });
      // A server that drops the connection before login without an error (sshd restarted by
      // cloud-init's ssh_pwauth mid-handshake) makes ssh2 emit only 'close', and its ready
      // timer goes with the socket: without this the promise would never settle (docs/facts.md §9).
      client.once('close', () => {
        if (settled) return;
        settled = true;
        reject(new Error(`${target.user}@${target.host}:${target.port}: the server closed the connection before login (sshd restarting?)`));
      });
      client.connect(connectConfig(target, opts.readyTimeoutMs ?? 20_000));
    });
  }

  /** Runs `command` to completion; a non-zero exit is a result, not an error. */
  exec(command: string, opts: { timeoutMs?: number; stdin?: string } = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      if (this.lost) return reject(new Error(`ssh exec ${JSON.stringify(command)}: not connected (${this.lost})`));
      this.client.exec(command, (err: Error | undefined, stream: ClientChannel) => {
        if (err) return reject(new Error(`ssh exec ${JSON.stringify(command)}: ${err.message}`));
        let stdout = '';
        let stderr = '';
        let code: number | null = null;
        let signal: string | undefined;
        const timer = setTimeout(() => {
          stream.close();
          reject(new Error(`ssh exec ${JSON.stringify(command)}: no exit within ${timeoutMs} ms`));
        }, timeoutMs);
        stream.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
        stream.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
        stream.on('exit', (c: number | null, s?: string) => {
          code = c;
          if (s) signal = s;
        });
        stream.on('close', () => {
          clearTimeout(timer);
          resolve({ command, code, ...(signal ? { signal } : {}), stdout, stderr });
        });
        if (opts.stdin !== undefined) stream.end(opts.stdin);
        else stream.end();
      });
    });
  }

  close(): void {
    this.client.end();
  }
}

/**
 * Connects, retrying (only) the connection itself until `timeoutMs` has passed: the guest's sshd
 * may not listen yet, may restart (cloud-init's ssh_pwauth does), or refuse logins while
 * /run/nologin exists. Assertions are never retried.
 */
export async function connectWithRetry(
  target: SshTarget,
  opts: { timeoutMs: number; signal?: AbortSignal; retryAuth?: boolean; onAttempt?: (err: Error, attempt: number) => void },
): Promise<SshSession> {
  const deadline = Date.now() + opts.timeoutMs;
  return pRetry(
    async () => {
      const left = deadline - Date.now();
      try {
        return await SshSession.connect(target, { readyTimeoutMs: Math.max(2000, Math.min(20_000, left)) });
      } catch (err) {
        if (err instanceof SshAuthError && !opts.retryAuth) throw new AbortError(err);
        throw err;
      }
    },
    {
      retries: 1000,
      minTimeout: 1000,
      maxTimeout: 3000,
      factor: 1.5,
      maxRetryTime: opts.timeoutMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onFailedAttempt: ({ error, attemptNumber }) => opts.onAttempt?.(error, attemptNumber),
    },
  );
}

/** Whether the server accepts `password` for `user` (password or keyboard-interactive). */
export async function tryPasswordLogin(
  host: string,
  port: number,
  user: string,
  password: string,
): Promise<{ accepted: boolean; detail: string; whoami?: string }> {
  let session: SshSession;
  try {
    session = await SshSession.connect({ host, port, user, password }, { readyTimeoutMs: 20_000 });
  } catch (err) {
    if (err instanceof SshAuthError) return { accepted: false, detail: err.message };
    throw err;
  }
  try {
    const r = await session.exec('id -un', { timeoutMs: 20_000 });
    const whoami = r.stdout.trim();
    return { accepted: true, detail: `logged in; id -un → ${whoami}`, whoami };
  } finally {
    session.close();
  }
}
