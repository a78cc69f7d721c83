import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSshBanner } from '../../harness/ssh/banner.ts';
import { connectWithRetry, SshAuthError, SshSession, tryPasswordLogin } from '../../harness/ssh/client.ts';
import { generateKeyPair, keyBlob } from '../../harness/ssh/keys.ts';
import { freeLoopbackPort } from '../../harness/vm/ports.ts';

/**
 * A real SSH server: the host's dropbear on a loopback port, in a private mount namespace where a
 * temporary /etc/passwd and /etc/shadow add a user `probe` (password `s3cret`) whose home holds
 * the generated key. The host's own files are untouched.
 */
interface Dropbear {
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

const USER = 'probe';
const PASSWORD = 's3cret';

async function startDropbear(dir: string, publicKey: string, port?: number): Promise<Dropbear> {
  await chmod(dir, 0o755);
  const home = join(dir, 'home');
  await mkdir(join(home, '.ssh'), { recursive: true });
  await chmod(home, 0o755);
  await writeFile(join(home, '.ssh', 'authorized_keys'), `${publicKey}\n`, { mode: 0o600 });
  await chmod(join(home, '.ssh'), 0o700);
  // dropbear reads authorized_keys as the user: the tree must be theirs.
  await execa('chown', ['-R', '4242:4242', home]);
  const hash = (await execa('openssl', ['passwd', '-6', PASSWORD])).stdout.trim();
  await writeFile(join(dir, 'passwd'), `${await readFile('/etc/passwd', 'utf8')}${USER}:x:4242:4242:probe:${home}:/bin/sh\n`);
  await writeFile(join(dir, 'shadow'), `${await readFile('/etc/shadow', 'utf8')}${USER}:${hash}:19000:0:99999:7:::\n`, { mode: 0o600 });
  const hostKey = join(dir, 'hostkey');
  await rm(hostKey, { force: true });
  await execa('dropbearkey', ['-t', 'ed25519', '-f', hostKey]);
  const p = port ?? (await freeLoopbackPort());
  const script = [
    `mount --bind ${join(dir, 'passwd')} /etc/passwd`,
    `mount --bind ${join(dir, 'shadow')} /etc/shadow`,
    `exec setpriv --pdeathsig KILL dropbear -F -E -p 127.0.0.1:${p} -r ${hostKey}`,
  ].join(' && ');
  const proc = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { stdio: ['ignore', 'ignore', process.env.DEBUG_DROPBEAR ? 'inherit' : 'ignore'] });
  return {
    port: p,
    proc,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGKILL');
      }),
  };
}

const key = generateKeyPair('ssh-client-test');
let dir: string;
let server: Dropbear;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-ssh-'));
  server = await startDropbear(dir, key.publicKey);
  // Wait until it listens (a real banner), so each test starts against a ready server.
  for (let i = 0; ; i++) {
    try {
      await readSshBanner('127.0.0.1', server.port, 2000);
      break;
    } catch (err) {
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

const target = () => ({ host: '127.0.0.1', port: server.port, user: USER });

describe('ssh client against a real dropbear', () => {
  it('generates an OpenSSH ed25519 key pair', () => {
    expect(key.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect(key.publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+ ssh-client-test$/);
    expect(keyBlob(`no-pty,command="x" ${key.publicKey}`)).toBe(key.publicKey.split(' ').slice(0, 2).join(' '));
  });

  it('waits for the server and reads its identification string', async () => {
    const session = await connectWithRetry({ ...target(), privateKey: key.privateKey }, { timeoutMs: 20_000 });
    session.close();
    expect(await readSshBanner('127.0.0.1', server.port)).toMatch(/^SSH-2\.0-dropbear/);
  });

  it('runs commands with key auth and reports exit code, stdout and stderr', async () => {
    const session = await SshSession.connect({ ...target(), privateKey: key.privateKey });
    try {
      const r = await session.exec('echo out; echo err >&2; exit 3');
      expect(r).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
      const whoami = await session.exec('id -un');
      expect(whoami.stdout.trim()).toBe(USER);
      const stdin = await session.exec('cat', { stdin: 'piped' });
      expect(stdin.stdout).toBe('piped');
    } finally {
      session.close();
    }
  });

  it('accepts the right password and refuses a wrong one', async () => {
    const ok = await tryPasswordLogin('127.0.0.1', server.port, USER, PASSWORD);
    expect(ok).toMatchObject({ accepted: true, whoami: USER });
    const bad = await tryPasswordLogin('127.0.0.1', server.port, USER, 'wrong');
    expect(bad.accepted).toBe(false);
    expect(bad.detail).toMatch(/authentication refused/);
  });

  it('does not retry an authentication failure', async () => {
    const other = generateKeyPair('not-authorized');
    const attempts: number[] = [];
    await expect(
      connectWithRetry({ ...target(), privateKey: other.privateKey }, { timeoutMs: 60_000, onAttempt: (_e, n) => attempts.push(n) }),
    ).rejects.toBeInstanceOf(SshAuthError);
    // onFailedAttempt runs only for failures that may be retried: none here.
    expect(attempts).toEqual([]);
  });

  it('retries the connection until a late server comes up', async () => {
    const lateDir = await mkdtemp(join(tmpdir(), 'cloudprobe-ssh-late-'));
    const port = await freeLoopbackPort();
    const attempts: string[] = [];
    let late: Dropbear | undefined;
    const timer = setTimeout(() => void startDropbear(lateDir, key.publicKey, port).then((d) => (late = d)), 2500);
    try {
      const session = await connectWithRetry(
        { host: '127.0.0.1', port, user: USER, privateKey: key.privateKey },
        { timeoutMs: 30_000, onAttempt: (e) => attempts.push(e.message) },
      );
      const r = await session.exec('true');
      session.close();
      expect(r.code).toBe(0);
      expect(attempts.length).toBeGreaterThan(0);
      expect(attempts[0]).toMatch(/ECONNREFUSED/);
    } finally {
      clearTimeout(timer);
      await late?.stop();
      await rm(lateDir, { recursive: true, force: true });
    }
  });

  it('does not take a bare TCP accept for an SSH server', async () => {
    const silent = createServer((s) => setTimeout(() => s.destroy(), 200));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      await expect(readSshBanner('127.0.0.1', port, 3000)).rejects.toThrow(/closed the connection before an SSH banner/);
    } finally {
      silent.close();
    }
  });

  it('a server that sends its banner and then hangs up (sshd restarting) is an error, never a hang', async () => {
    // ssh2 emits only 'close' here, no 'error', and drops its ready timer with the socket.
    const restarting = createServer((s) => {
      s.write('SSH-2.0-OpenSSH_10.0p2 Debian-7\r\n');
      setTimeout(() => s.end(), 200);
    });
    await new Promise<void>((r) => restarting.listen(0, '127.0.0.1', r));
    const port = (restarting.address() as { port: number }).port;
    try {
      const key = generateKeyPair('t');
      await expect(SshSession.connect({ host: '127.0.0.1', port, user: USER, privateKey: key.privateKey }, { readyTimeoutMs: 60_000 })).rejects.toThrow(
        `${USER}@127.0.0.1:${port}: the server closed the connection before login (sshd restarting?)`,
      );
    } finally {
      restarting.close();
    }
  });

  it('a handshake that times out rejects once and leaves no unheard error to kill the process', async () => {
    // ssh2 emits two errors here: the ready timeout, then "Connection lost before handshake" when
    // the socket goes. A listener for the first one only let the second crash a whole certify run.
    const silent = createServer((s) => {
      s.on('data', () => undefined);
      setTimeout(() => s.destroy(), 1500);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const unheard: unknown[] = [];
    const onUncaught = (err: unknown) => unheard.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const key = generateKeyPair('t');
      await expect(SshSession.connect({ host: '127.0.0.1', port, user: USER, privateKey: key.privateKey }, { readyTimeoutMs: 500 })).rejects.toThrow(`${USER}@127.0.0.1:${port}: Timed out while waiting for handshake`);
      // Past the server's hang-up, when the second error comes.
      await new Promise((r) => setTimeout(r, 2000));
      expect(unheard).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      silent.close();
    }
  });
});
