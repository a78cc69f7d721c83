import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecResult } from '../../harness/ssh/client.ts';
import { BatchingTransport, bundleScript, parseBundle } from '../../harness/ssh/batch.ts';
import { Guest, type GuestExecRequest, type GuestTransport } from '../../harness/ssh/guest.ts';
import { shellQuote } from '../../harness/util/shell.ts';
import { LocalShell } from '../helpers/local-guest.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-batch-'));
  await mkdir(join(dir, 'bb'));
  await mkdir(join(dir, 'bin'));
  await symlink('/bin/busybox', join(dir, 'bb', 'sh'));
  for (const bin of ['bb', 'bin']) {
    await writeFile(join(dir, bin, 'sudo'), '#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n');
    await chmod(join(dir, bin, 'sudo'), 0o755);
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * This machine's shell with a `sudo` on PATH that runs its command as it is (no sudo here; the
 * tests run as root anyway), and SHELL set as sshd sets it. With `busybox`, every shell — the outer
 * one, the login shell ($SHELL, found as `sh` on PATH) and sudo's sh — is BusyBox's, as on Cirros.
 */
class FakeSudoShell implements GuestTransport {
  readonly seen: string[] = [];
  private readonly shell = new LocalShell(dir);
  constructor(private readonly busybox = false) {}
  exec(command: string, opts: GuestExecRequest): Promise<ExecResult> {
    this.seen.push(command);
    const bin = join(dir, this.busybox ? 'bb' : 'bin');
    return this.shell.exec(`PATH=${bin}:$PATH SHELL=${this.busybox ? `${bin}/sh` : '/bin/sh'}; export PATH SHELL; sh -c ${shellQuote(command)}`, opts);
  }
}

// Outputs and statuses a bundle must hand back exactly as each command alone would get them.
const COMMANDS: { shell: string }[] = [
  { shell: 'printf "no newline at the end"' },
  { shell: 'printf "two\\n\\nblank lines\\n\\n"' },
  { shell: 'echo out; echo err >&2; exit 3' },
  { shell: 'cat' }, // stdin is /dev/null, as with no input over SSH: ends at once
  { shell: 'echo "cloudprobe-0000 0 o"; echo "\\n"' },
  { shell: 'exit 0' },
  { shell: 'seq 1 20000' },
  { shell: 'nosuchcommand-xyz' },
  { shell: "echo 'it'\\''s'; (exit 7)" },
  { shell: 'cd /; pwd; A=1; echo "$A"' },
];

async function alone(cmd: { shell: string }, root = false): Promise<ExecResult> {
  return new Guest(new FakeSudoShell(), 'ubuntu').exec(cmd, { root });
}

describe('BatchingTransport', () => {
  it('gives each command of a round exactly what it gets alone, in one round trip per user', async () => {
    const expected = await Promise.all(COMMANDS.map((c, k) => alone(c, k % 3 === 0)));
    const inner = new FakeSudoShell();
    const batched = new BatchingTransport(inner, 'ubuntu');
    const guest = new Guest(batched, 'ubuntu');
    const got = await Promise.all(COMMANDS.map((c, k) => guest.exec(c, { root: k % 3 === 0 })));
    expect(got).toEqual(expected);
    // One exec: the user's commands and, inside it, the root ones under a single sudo.
    expect(inner.seen).toHaveLength(1);
    expect(inner.seen[0]!.match(/sudo -n sh -c/g)).toHaveLength(1);
    expect(batched.stats).toMatchObject({ roundTrips: 1, commands: COMMANDS.length, fallbacks: 0 });
  });

  it('works under BusyBox sh (the Cirros and fixture userland)', async () => {
    const inner = new FakeSudoShell(true);
    const guest = new Guest(new BatchingTransport(inner, 'cirros'), 'cirros');
    const got = await Promise.all(COMMANDS.map((c) => guest.exec(c)));
    const expected = await Promise.all(COMMANDS.map((c) => new Guest(new FakeSudoShell(true), 'cirros').exec(c)));
    expect(got).toEqual(expected);
    expect(inner.seen).toHaveLength(1);
  });

  it('a command alone in its round is sent as it is', async () => {
    const inner = new FakeSudoShell();
    const guest = new Guest(new BatchingTransport(inner, 'ubuntu'), 'ubuntu');
    expect((await guest.exec(['echo', 'hi'])).stdout).toBe('hi\n');
    expect(inner.seen).toEqual(['echo hi']);
  });

  it('sends the commands one by one when a bundle does not come back whole (sudo refused)', async () => {
    const inner = new FakeSudoShell();
    const refusing: GuestTransport = {
      exec: (command, o) => inner.exec(command.replaceAll('sudo -n sh -c', 'refuse'), o),
    };
    await writeFile(join(dir, 'bin', 'refuse'), '#!/bin/sh\necho "sudo: a password is required" >&2\nexit 1\n');
    await chmod(join(dir, 'bin', 'refuse'), 0o755);
    const batched = new BatchingTransport(refusing, 'ubuntu');
    const guest = new Guest(batched, 'ubuntu');
    const [a, b, c] = await Promise.all([guest.exec(['id'], { root: true }), guest.exec(['id', '-u'], { root: true }), guest.exec(['echo', 'plain'])]);
    expect([a.code, a.stderr, b.code, b.stderr]).toEqual([1, 'sudo: a password is required\n', 1, 'sudo: a password is required\n']);
    expect([c.code, c.stdout]).toEqual([0, 'plain\n']);
    // The round's bundle, then the two root commands alone.
    expect(inner.seen).toHaveLength(3);
    expect(batched.stats.fallbacks).toBe(1);
  });

  it('no result for the bundle is no result for each of its commands', async () => {
    const lost: GuestTransport = { exec: async () => Promise.reject(new Error('connection lost')) };
    const guest = new Guest(new BatchingTransport(lost, 'ubuntu'), 'ubuntu');
    const outcomes = await Promise.allSettled([guest.exec(['a']), guest.exec(['b'])]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).toContain('a: connection lost');
  });
});

describe('parseBundle', () => {
  it('refuses output that is cut short or lacks a part', async () => {
    const script = bundleScript(['echo a', 'echo b'], 'B1');
    const r = await new LocalShell(dir).exec(script, { timeoutMs: 10_000 });
    expect(parseBundle(r, 'B1', 2)?.map((x) => x.stdout)).toEqual(['a\n', 'b\n']);
    expect(parseBundle({ ...r, stdout: r.stdout.slice(0, -5) }, 'B1', 2)).toBeUndefined();
    expect(parseBundle({ ...r, stdout: r.stdout.replace('B1 1 e', 'B1 1 x') }, 'B1', 2)).toBeUndefined();
    expect(parseBundle(r, 'B1', 3)).toBeUndefined();
    expect(parseBundle({ ...r, code: 97 }, 'B1', 2)).toBeUndefined();
  });
});
