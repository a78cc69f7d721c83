import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImage } from '../../harness/images/ensure.ts';
import { processAlive as alive } from '../../harness/util/process-alive.ts';

// `cloudprobe run` end to end with real QEMU on the fixture image (busybox + dropbear initramfs,
// SSH in seconds under TCG): exit codes, reports, secrets, Ctrl-C, no qemu left behind.
const CLI = resolve('bin/cloudprobe.js');
const PASSWORD = 'Fx7rT2qLm9KsW4vB';
let dir: string;

const caseFile = (name: string, datasources: string[], hostname: string) => `name: ${name}
images: [fixture-busybox]
datasources: [${datasources.join(', ')}]
networks: [dhcp]
instance:
  name: fx
  hostname: fx.example.net
  admin_pass: "\${PASSWORD}"
  public_keys: { run: "\${SSH_PUBLIC_KEY}" }
  user_data: |
    #!/bin/sh
    echo "\${PASSWORD}" > /dev/null
expect:
  hostname: ${hostname}
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-run-'));
  await ensureImage('fixture-busybox');
}, 300_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function qemuPids(out: string): number[] {
  return [...out.matchAll(/qemu pid (\d+)/g)].map((m) => Number(m[1]));
}
async function allFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}
const env = () => ({ ...process.env, CI: 'true', CLOUDPROBE_RUN_PASSWORD: PASSWORD });

describe('cloudprobe run on real VMs (fixture image)', () => {
  it('passes a matrix in parallel, writes every report, leaves no qemu and no secret behind', async () => {
    const file = join(dir, 'good.yaml');
    await writeFile(file, caseFile('good', ['configdrive-iso9660', 'configdrive-vfat'], 'fx.example.net'));
    const reports = join(dir, 'good-reports');
    const r = await execa('node', [CLI, 'run', file, '--jobs', '2', '--report-dir', reports], { env: env(), reject: false, all: true, timeout: 300_000 });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/PASS {2}good\/fixture-busybox\/configdrive-iso9660\/dhcp/);
    expect(r.stdout).toMatch(/PASS {2}good\/fixture-busybox\/configdrive-vfat\/dhcp/);
    const results = JSON.parse(await readFile(join(reports, 'results.json'), 'utf8'));
    expect(results.summary).toMatchObject({ cells: 2, passed: 2, failed: 0, errors: 0 });
    expect(results.jobs).toBe(2);
    for (const f of ['junit.xml', 'matrix.md', 'matrix.html']) expect(existsSync(join(reports, f)), f).toBe(true);
    const pids = qemuPids(r.stdout);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(alive(pid), `qemu ${pid}`).toBe(false);
    // The password was in the instance (admin_pass, user data): not in any output or file.
    expect(r.all).not.toContain(PASSWORD);
    for (const f of await allFiles(reports)) expect(await readFile(f, 'latin1'), f).not.toContain(PASSWORD);
  });

  it('exits 1 when an expectation fails, and the reports say why', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, caseFile('bad', ['configdrive-iso9660'], 'not-this-name'));
    const reports = join(dir, 'bad-reports');
    const r = await execa('node', [CLI, 'run', file, '--report-dir', reports], { env: env(), reject: false, all: true, timeout: 300_000 });
    expect(r.exitCode, r.all).toBe(1);
    expect(r.stdout).toMatch(/FAIL {2}bad\/fixture-busybox\/configdrive-iso9660\/dhcp .*hostname: .*expected "not-this-name"/);
    const md = await readFile(join(reports, 'matrix.md'), 'utf8');
    expect(md).toMatch(/- \*\*hostname\*\*: .*not-this-name/);
    expect(await readFile(join(reports, 'junit.xml'), 'utf8')).toMatch(/<failure message="[^"]*not-this-name/);
  });

  it('Ctrl-C stops the running VM, starts nothing more, still writes reports, exits 130', async () => {
    const file = join(dir, 'int.yaml');
    await writeFile(file, caseFile('int', ['configdrive-iso9660', 'configdrive-vfat'], 'fx.example.net'));
    const reports = join(dir, 'int-reports');
    const child = execa('node', [CLI, 'run', file, '--jobs', '1', '--report-dir', reports], { env: env(), reject: false, all: true, timeout: 300_000 });
    let out = '';
    await new Promise<void>((done) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (/stage kernel reached/.test(out)) done();
      });
    });
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode, r.all).toBe(130);
    expect(r.stderr).toContain('SIGINT: stopping, keeping the logs');
    const pids = qemuPids(r.stdout);
    expect(pids).toHaveLength(1);
    expect(alive(pids[0]!)).toBe(false);
    const results = JSON.parse(await readFile(join(reports, 'results.json'), 'utf8'));
    expect(results.interrupted).toBe(true);
    expect(results.results).toHaveLength(1);
    expect(results.results[0].outcome).toBe('error');
    expect(results.skipped.map((s: { id: string; kind: string }) => [s.id, s.kind])).toEqual([['int/fixture-busybox/configdrive-vfat/dhcp', 'cancelled']]);
  });

  it('--keep on-failure holds the failed VM, prints a working ssh command, and Ctrl-C ends it', async () => {
    const file = join(dir, 'keep.yaml');
    await writeFile(file, caseFile('keep', ['configdrive-iso9660'], 'not-this-name'));
    const reports = join(dir, 'keep-reports');
    const child = execa('node', [CLI, 'run', file, '--keep', 'on-failure', '--report-dir', reports], { env: env(), reject: false, all: true, timeout: 300_000 });
    let out = '';
    const kept = await new Promise<string>((done) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /kept keep\/fixture-busybox\/configdrive-iso9660\/dhcp: (ssh .*?)\s+\(running until Ctrl-C\)/.exec(out);
        if (m) done(m[1]!);
      });
    });
    // The printed command really reaches the held guest (OpenSSH client, batch mode).
    const args = kept.split(/\s+/).slice(1);
    const keyFile = args[args.indexOf('-i') + 1]!;
    const ssh = await execa('ssh', ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', ...args, 'hostname'], { reject: false, timeout: 60_000 });
    expect(ssh.stdout.trim(), ssh.stderr).toBe('fx.example.net');
    const pid = qemuPids(out)[0]!;
    expect(alive(pid)).toBe(true);
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode, r.all).toBe(130);
    expect(alive(pid)).toBe(false);
    expect(existsSync(keyFile)).toBe(false);
    const results = JSON.parse(await readFile(join(reports, 'results.json'), 'utf8'));
    expect(results.results[0].outcome).toBe('fail');
    expect(results.results[0].kept.sshCommand).toBe(kept);
    // A held VM's work dir is kept for the person debugging it (its console, its config drive);
    // the test is that person here: it checks it was kept, then removes it.
    const keptDir = results.results[0].kept.workDir as string;
    expect(existsSync(join(keptDir, 'serial.log'))).toBe(true);
    await rm(keptDir, { recursive: true, force: true });
    // One owner of teardown: one interrupt notice, no second handler racing it, no failed undo,
    // and the held cell still collected its console log after Ctrl-C ended the hold.
    expect(r.stderr.match(/SIGINT: stopping/g), r.all).toHaveLength(1);
    expect(r.all).not.toMatch(/cleanup: /);
    const consoleLog = await readFile(join(reports, 'artifacts', 'keep/fixture-busybox/configdrive-iso9660/dhcp', 'console.log'), 'utf8');
    expect(consoleLog).toContain('cloudprobe-fixture: init started');
  });
});
