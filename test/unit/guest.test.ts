import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Guest, GuestCommandError, GuestNoResultError, GuestTimeoutError } from '../../harness/ssh/guest.ts';
import { asRoot, shellJoin, shellQuote } from '../../harness/util/shell.ts';
import { LocalShell, ScriptedTransport } from '../helpers/local-guest.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-guest-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Words a shell would otherwise split, expand, substitute, glob or end a command at.
const NASTY = ["it's", 'a b', '$HOME', '$(echo pwned)', '`id`', 'line1\nline2', '', '*', 'back\\slash', '"dq"', '~', 'tab\there', '!x', ';', '&&', '# not a comment', "''", 'x=y', '-n'];

/** printf's NUL-separated echo of its arguments: what the shell really passed on. */
const echoArgs = (words: string[]) => ['printf', '%s\\0', ...words];
const parseArgs = (stdout: string) => stdout.split('\0').slice(0, -1);

describe('shell quoting (one implementation, harness/util/shell.ts)', () => {
  it('argv with quotes, spaces, $, backquotes and newlines round-trips through a real sh -c', async () => {
    const guest = new Guest(new LocalShell(dir), 'tester');
    const r = await guest.exec(echoArgs(NASTY));
    expect(r.code).toBe(0);
    expect(parseArgs(r.stdout)).toEqual(NASTY);
  });

  it('leaves plainly safe words bare, so evidence reads as a person would type it', () => {
    expect(shellJoin(['cat', '/etc/timezone'])).toBe('cat /etc/timezone');
    expect(shellJoin(['cloud-init', 'status', '--format=json'])).toBe('cloud-init status --format=json');
    expect(shellQuote('^ubuntu:')).toBe("'^ubuntu:'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('')).toBe("''");
  });

  it('runs a first word that looks like an assignment or a reserved word as a command', async () => {
    const guest = new Guest(new LocalShell(dir), 'tester');
    // Bare, `A=b` would be an assignment (exit 0) and `if` a syntax error (exit 2): both must be "not found".
    expect((await guest.exec(['A=b'])).code).toBe(127);
    expect((await guest.exec(['if'])).code).toBe(127);
  });

  it('root commands go through sudo -n sh -c with the inner line quoted once more, and still round-trip', async () => {
    const shell = new ScriptedTransport(() => ({ stdout: '' }));
    await new Guest(shell, 'ubuntu').exec(echoArgs(NASTY), { root: true });
    const sent = shell.seen[0]!;
    expect(sent.startsWith('sudo -n sh -c ')).toBe(true);
    // Run what sudo would run (its argv after `sudo -n`) with the real shell.
    const local = new LocalShell(dir);
    const r = await local.exec(sent.slice('sudo -n '.length), { timeoutMs: 10_000 });
    expect(parseArgs(r.stdout)).toEqual(NASTY);
  });

  it('root needs no sudo when the login user is root', async () => {
    const shell = new ScriptedTransport(() => ({}));
    await new Guest(shell, 'root').exec(['id', '-u'], { root: true });
    expect(shell.seen).toEqual(['id -u']);
    expect(asRoot('ubuntu', 'id -u')).toBe("sudo -n sh -c 'id -u'");
  });

  it('a {shell} command is taken as written: pipes and || work', async () => {
    const guest = new Guest(new LocalShell(dir), 'tester');
    expect((await guest.exec({ shell: 'echo a b | tr " " "\\n" | wc -l || true' })).stdout.trim()).toBe('2');
  });
});

describe('Guest: succeed, readFile, waitUntil', () => {
  it('succeed returns stdout, and throws GuestCommandError with command, exit code and output on non-zero', async () => {
    const guest = new Guest(new LocalShell(dir), 'tester');
    expect(await guest.succeed(['echo', 'hi'])).toBe('hi\n');
    const err = await guest.succeed({ shell: 'echo out; echo err >&2; exit 3' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuestCommandError);
    const e = err as GuestCommandError;
    expect(e.command).toBe('echo out; echo err >&2; exit 3');
    expect(e.code).toBe(3);
    expect(e.output).toBe('out\n[stderr] err\n[exit 3]');
    expect(e.message).toContain('exit 3');
  });

  it('readFile: content, undefined when absent, GuestCommandError when present but unreadable', async () => {
    const guest = new Guest(new LocalShell(dir), 'tester');
    await writeFile(join(dir, 'present'), 'hello\n');
    expect(await guest.readFile(join(dir, 'present'))).toBe('hello\n');
    expect(await guest.readFile(join(dir, 'absent'))).toBeUndefined();
    // A directory exists but cat cannot read it (as root, permissions would not stop us).
    const err = await guest.readFile(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuestCommandError);
    expect((err as Error).message).toContain('exists but could not be read');
  });

  it('readFile reads names with spaces and quotes', async () => {
    const guest = new Guest(new LocalShell(dir), 'tester');
    const name = join(dir, "it's a file");
    await writeFile(name, 'x');
    expect(await guest.readFile(name)).toBe('x');
  });

  it('waitUntil polls a command until it exits 0', async () => {
    const guest = new Guest(new LocalShell(dir), 'tester');
    const counter = join(dir, 'count');
    // Succeeds on the third run only.
    await guest.waitUntil({ shell: `n=$(cat ${shellQuote(counter)} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${shellQuote(counter)}; [ $n -ge 3 ]` }, { timeoutMs: 30_000, intervalMs: 1 });
    expect((await guest.readFile(counter))?.trim()).toBe('3');
  });

  it('waitUntil polls a predicate, and throws GuestTimeoutError when it never holds', async () => {
    const guest = new Guest(new ScriptedTransport(() => ({})), 'tester');
    let calls = 0;
    await guest.waitUntil(async () => ++calls === 4, { timeoutMs: 30_000, intervalMs: 1 });
    expect(calls).toBe(4);
    await expect(guest.waitUntil(async () => false, { timeoutMs: 5, intervalMs: 1 })).rejects.toBeInstanceOf(GuestTimeoutError);
  });
});

describe('Guest evidence', () => {
  it('a recording view keeps `$ cmd` → output, [stderr] and [exit N] exactly as reports show them', async () => {
    const base = new Guest(new LocalShell(dir), 'tester');
    const g = base.recording();
    await g.exec(['echo', 'hi']);
    await g.exec({ shell: 'echo out; echo err >&2; exit 3' });
    await g.exec({ shell: 'printf partial; echo err >&2' });
    await g.exec(['false']);
    g.note('a note', 'as given');
    expect(g.evidence).toEqual({
      '$ echo hi': 'hi',
      '$ echo out; echo err >&2; exit 3': 'out\n[stderr] err\n[exit 3]',
      '$ printf partial; echo err >&2': 'partial\n[stderr] err',
      '$ false': '\n[exit 1]',
      'a note': 'as given',
    });
  });

  it('records per view: two probes see only their own commands; the base guest records nothing', async () => {
    const base = new Guest(new LocalShell(dir), 'tester');
    const a = base.recording();
    const b = base.recording();
    await a.exec(['echo', 'a']);
    await b.exec(['echo', 'b']);
    await base.exec(['echo', 'base']);
    expect(Object.keys(a.evidence)).toEqual(['$ echo a']);
    expect(Object.keys(b.evidence)).toEqual(['$ echo b']);
    expect(base.evidence).toEqual({});
  });

  it('evidence shows the command before root wrapping', async () => {
    const g = new Guest(new ScriptedTransport(() => ({ stdout: 'x\n' })), 'ubuntu').recording();
    await g.exec(['cat', '/etc/shadow'], { root: true });
    expect(g.evidence).toEqual({ '$ cat /etc/shadow': 'x' });
  });

  it('no result at all (lost SSH, closed channel) throws GuestNoResultError and says so in the evidence', async () => {
    const lost = new Guest(new ScriptedTransport(() => new Error('Not connected')), 'ubuntu').recording();
    await expect(lost.exec(['hostname'])).rejects.toBeInstanceOf(GuestNoResultError);
    expect(lost.evidence['$ hostname']).toBe('[no result: Not connected]');
    const closed = new Guest(new ScriptedTransport(() => ({ code: null })), 'ubuntu').recording();
    await expect(closed.exec(['hostname'])).rejects.toThrow(/without an exit status/);
    expect(closed.evidence['$ hostname']).toBe('[no exit status: the connection closed]');
    // Killed by a signal is a result, not a lost connection.
    const killed = new Guest(new ScriptedTransport(() => ({ code: null, signal: 'KILL' })), 'ubuntu').recording();
    expect((await killed.exec(['hostname'])).signal).toBe('KILL');
    expect(killed.evidence['$ hostname']).toBe('\n[exit KILL]');
  });
});
