import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineProbe, pass } from '../../harness/probes/define.ts';
import { runProbes } from '../../harness/probes/run.ts';
import { BatchingTransport } from '../../harness/ssh/batch.ts';
import { SshSession } from '../../harness/ssh/client.ts';
import { Guest, GuestCommandError } from '../../harness/ssh/guest.ts';
import { generateKeyPair } from '../../harness/ssh/keys.ts';
import { probeContext } from '../helpers/probe-context.ts';

/**
 * The Guest over a real SSH connection: an ssh2 server on loopback that runs each exec request with
 * this machine's `sh -c` (as sshd does with the login shell), reached through a TCP relay that the
 * test can cut to drop the connection in the middle of a probe.
 */

const { Server } = ssh2;
const USER = 'probe';
const PASSWORD = 'guest-test-pw';

interface TestServer {
  port: number;
  /** Commands for which the relay cuts every connection instead of answering. */
  dropWhen: (command: string) => boolean;
  close(): Promise<void>;
}

async function listen(server: NetServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function startServer(): Promise<TestServer> {
  const relayed = new Set<Socket>();
  const state: TestServer = { port: 0, dropWhen: () => false, close: async () => {} };
  const ssh = new Server({ hostKeys: [generateKeyPair('guest-test-host').privateKey] }, (client) => {
    client.on('error', () => undefined); // cut connections are the point of some tests
    client.on('authentication', (ctx) => (ctx.method === 'password' && ctx.username === USER && ctx.password === PASSWORD ? ctx.accept() : ctx.reject(['password'])));
    client.on('session', (acceptSession) => {
      acceptSession().on('exec', (acceptExec, _reject, info) => {
        const stream = acceptExec();
        if (state.dropWhen(info.command)) {
          // The command started and said something, then the network went away. (Whether the
          // client still sees that output before the cut is up to the network: either way it has
          // no exit status, so the probe could not look.)
          stream.write('partial output\n', () =>
            setTimeout(() => {
              for (const s of relayed) s.destroy();
            }, 20),
          );
          return;
        }
        const child = spawn('sh', ['-c', info.command], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', LC_ALL: 'C' } });
        child.stdout.on('data', (d: Buffer) => stream.write(d));
        child.stderr.on('data', (d: Buffer) => stream.stderr.write(d));
        child.on('close', (code) => {
          stream.exit(code ?? 255);
          stream.end();
        });
        stream.on('close', () => child.kill('SIGKILL'));
      });
    });
  });
  const sshPort = await listen(ssh);
  const relay = createServer((inbound) => {
    const outbound = connect(sshPort, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      relayed.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        relayed.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  state.port = await listen(relay);
  state.close = async () => {
    for (const s of relayed) s.destroy();
    await Promise.all([new Promise((r) => relay.close(r)), new Promise((r) => ssh.close(r))]);
  };
  return state;
}

let server: TestServer;
let dir: string;
const sessions: SshSession[] = [];

async function guest(): Promise<{ session: SshSession; guest: Guest }> {
  const session = await SshSession.connect({ host: '127.0.0.1', port: server.port, user: USER, password: PASSWORD });
  sessions.push(session);
  return { session, guest: new Guest(session, USER) };
}

beforeAll(async () => {
  server = await startServer();
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-ssh-guest-'));
});
afterAll(async () => {
  for (const s of sessions) s.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('Guest over a real SSH connection', () => {
  it('argv with quotes, spaces, $, backquotes and newlines arrives word for word', async () => {
    server.dropWhen = () => false;
    const { guest: g } = await guest();
    const words = ["it's", 'a b', '$HOME', '$(echo pwned)', '`id`', 'line1\nline2', '', '*', '"dq"', 'x=y'];
    const out = await g.succeed(['printf', '%s\\0', ...words]);
    expect(out.split('\0').slice(0, -1)).toEqual(words);
  });

  it('succeed throws GuestCommandError on non-zero; readFile tells missing from present', async () => {
    server.dropWhen = () => false;
    const { guest: g } = await guest();
    const err = await g.succeed({ shell: 'echo nope >&2; exit 4' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuestCommandError);
    expect((err as GuestCommandError).code).toBe(4);
    const file = join(dir, 'with space');
    await writeFile(file, 'content\n');
    expect(await g.readFile(file)).toBe('content\n');
    expect(await g.readFile(join(dir, 'absent'))).toBeUndefined();
  });

  it('a connection dropped in the middle of a probe gives an error verdict (never fail), and a probe run after it errors too', async () => {
    server.dropWhen = (c) => c.startsWith('readlink');
    const { guest: g } = await guest();
    const ctx = { ...probeContext({ exec: () => Promise.reject(new Error('unused')) }, { timezone: 'Asia/Shanghai', runcmdPaths: ['/yunshan'] }), guest: g };
    // Probes run at once; runcmd is asked for after the drop, so it cannot have been answered before it.
    const [tz] = await runProbes(ctx, ['timezone']);
    const [runcmd] = await runProbes(ctx, ['runcmd']);
    expect(tz!.status).toBe('error');
    expect(tz!.summary).toMatch(/^probe could not run: readlink \/etc\/localtime: /);
    // What it saw before the drop stays as evidence, and the drop itself is shown.
    expect(Object.keys(tz!.evidence ?? {})).toContain('$ cat /etc/timezone');
    expect(tz!.evidence?.['$ readlink /etc/localtime']).toMatch(/\[no (result|exit status)[^\]]*\]$/);
    expect(runcmd!.status).toBe('error');
    expect(runcmd!.summary).toMatch(/^probe could not run: stat .*not connected/);
  });

  it('a command that never ends is an error verdict once its timeout passes', async () => {
    server.dropWhen = () => false;
    const { guest: g } = await guest();
    const hangs = defineProbe('runcmd', {
      expects: (e) => e.runcmdPaths,
      run: async (_paths, pg) => {
        await pg.exec(['sleep', '30'], { timeoutMs: 300 });
        return pass('unreachable');
      },
    });
    const ctx = { ...probeContext({ exec: () => Promise.reject(new Error('unused')) }, { runcmdPaths: ['/yunshan'] }), guest: g };
    const v = await hangs(ctx);
    expect(v.status).toBe('error');
    expect(v.summary).toMatch(/^probe could not run: sleep 30: .*no exit within 300 ms/);
    // The session itself still works afterwards.
    expect(await g.succeed(['echo', 'still here'])).toBe('still here\n');
  });

  it('probes at once through the batching transport: one exec per round, the same verdicts and evidence as one by one', async () => {
    server.dropWhen = () => false;
    const file = join(dir, 'tz');
    await writeFile(file, 'Asia/Shanghai\n');
    const { session } = await guest();
    let execs = 0;
    const counting = { exec: (c: string, o: { timeoutMs: number }) => (execs++, session.exec(c, o)) };
    const expectations = { timezone: 'Asia/Shanghai', runcmdPaths: ['/yunshan', dir] };
    const ctxWith = (g: Guest) => ({ ...probeContext({ exec: () => Promise.reject(new Error('unused')) }, expectations), guest: g });
    const oneByOne = await runProbes(ctxWith(new Guest(counting, USER)), ['timezone', 'runcmd']);
    const alone = execs;
    execs = 0;
    const batched = new BatchingTransport(counting, USER);
    const together = await runProbes(ctxWith(new Guest(batched, USER)), ['timezone', 'runcmd']);
    const strip = (vs: typeof oneByOne) => vs.map(({ durationMs: _d, ...v }) => v);
    expect(strip(together)).toEqual(strip(oneByOne));
    expect(together.map((v) => v.status)).toEqual(oneByOne.map((v) => v.status));
    expect(execs).toBeLessThan(alone);
    expect(batched.stats.commands).toBe(alone);
  });
});
