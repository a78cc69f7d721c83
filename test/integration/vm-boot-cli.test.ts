import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImage } from '../../harness/images/ensure.ts';
import { processAlive as alive } from '../../harness/util/process-alive.ts';

// `cloudprobe vm boot --hold` on the fixture image with the metadata service: the hold ends on an
// interrupt — Ctrl-C, or the parent going away as with `npx` — and the cell then keeps its console
// and metadata logs and stops its VM like any cell.
const CLI = resolve('bin/cloudprobe.js');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-vm-boot-'));
  await ensureImage('fixture-busybox');
}, 300_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});


/** Resolves with the whole output once `pattern` appears in the child's stdout. */
function waitFor(child: ResultPromise, pattern: RegExp): Promise<RegExpExecArray> {
  let out = '';
  return new Promise((done) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) done(m);
    });
  });
}

async function expectLogsKept(artifacts: string): Promise<void> {
  const cellDir = join(artifacts, 'vm-boot/fixture-busybox/metadata-openstack/dhcp');
  expect(await readFile(join(cellDir, 'console.log'), 'utf8')).toContain('cloudprobe-fixture: init started');
  const requests = (await readFile(join(cellDir, 'metadata-requests.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { path: string });
  expect(requests.map((r) => r.path)).toContain('/openstack/latest/meta_data.json');
}

const HELD = /VM is up; log in with: (ssh .*?)\s+\(running until Ctrl-C\)/;

describe('cloudprobe vm boot --hold', () => {
  it('Ctrl-C ends the hold, keeps the console and metadata logs, stops the VM, exits 130', async () => {
    const artifacts = join(dir, 'sigint');
    const child = execa('node', [CLI, 'vm', 'boot', 'fixture-busybox', '-d', 'metadata-openstack', '-a', artifacts, '--hold'], { reject: false, all: true, timeout: 300_000 });
    const held = await waitFor(child, HELD);
    const args = held[1]!.split(/\s+/).slice(1);
    const ssh = await execa('ssh', ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', ...args, 'hostname'], { reject: false, timeout: 60_000 });
    expect(ssh.exitCode, ssh.stderr).toBe(0);
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode, r.all).toBe(130);
    const qemu = [...r.all.matchAll(/qemu pid (\d+)/g)].map((m) => Number(m[1]));
    expect(qemu).toHaveLength(1);
    expect(alive(qemu[0]!)).toBe(false);
    await expectLogsKept(artifacts);
    const workDir = /work dir (\S+)/.exec(r.all)?.[1];
    expect(workDir && existsSync(workDir)).toBe(false);
  });

  it('a parent that dies (as a signalled npx does, passing nothing on) ends the hold too, with the logs kept', async () => {
    const artifacts = join(dir, 'orphan');
    const log = join(dir, 'orphan.log');
    // The shell plays npx: it starts the harness (output to a file, as to a terminal), prints its
    // pid, and is then SIGKILLed — nothing is passed on to the harness.
    const shell = execa('bash', ['-c', `node ${CLI} vm boot fixture-busybox -d metadata-openstack -a ${artifacts} --hold >${log} 2>&1 & echo "harness pid $!"; wait`], { reject: false, timeout: 300_000 });
    const pid = Number((await waitFor(shell, /harness pid (\d+)/))[1]);
    const output = async () => readFile(log, 'utf8').catch(() => '');
    for (let i = 0; i < 240 && !HELD.test(await output()); i++) await new Promise((r) => setTimeout(r, 500));
    expect(await output()).toMatch(HELD);
    const qemu = Number(/qemu pid (\d+)/.exec(await output())![1]);
    shell.kill('SIGKILL');
    await shell;
    expect(alive(pid)).toBe(true);
    // The harness notices it was re-parented and shuts down on its own.
    for (let i = 0; i < 120 && alive(pid); i++) await new Promise((r) => setTimeout(r, 500));
    expect(alive(pid), await output()).toBe(false);
    expect(alive(qemu)).toBe(false);
    expect(await output()).toContain('parent process exited');
    await expectLogsKept(artifacts);
  });
});
