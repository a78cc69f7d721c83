import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processGone, waitFor } from '../helpers/processes.ts';
import { ensureImage } from '../../harness/images/ensure.ts';
import { listNamespaces, namespacePids } from '../../harness/network/neutron/ip.ts';
import { sweepStale } from '../../harness/network/neutron/sweep.ts';

/**
 * `cloudprobe run` on a neutron cell, killed mid-boot (QEMU running on a tap in the segment
 * namespace, dnsmasq and haproxy up): after SIGKILL no QEMU, dnsmasq or haproxy of it survives,
 * and the next run sweeps its namespaces before booting; that next run, stopped with SIGTERM,
 * removes its own namespaces and processes before it exits.
 */

const CLI = resolve('bin/cloudprobe.js');
let dir: string;
let caseFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-neutron-run-kill-'));
  await ensureImage('fixture-busybox');
  caseFile = join(dir, 'kill.yaml');
  await writeFile(
    caseFile,
    [
      'name: kill',
      'images: [fixture-busybox]',
      'datasources: [metadata-openstack]',
      'networks:',
      '  - label: both',
      '    networks: [{ name: private, router: true, metadata: both, subnet: { cidr: 172.16.11.0/24 } }]',
      '    nics: [private]',
      'instance: { name: kill }',
      'expect: {}',
      '',
    ].join('\n'),
  );
}, 600_000);

afterAll(async () => {
  await sweepStale();
  await rm(dir, { recursive: true, force: true });
});


interface Started {
  child: ChildProcess;
  qemuPid: number;
  namespaces: string[];
  output: () => string;
}

/** Starts `cloudprobe run` on the case and resolves once its QEMU runs inside the namespaces. */
function startRun(reportDir: string): Promise<Started> {
  const child = spawn(process.execPath, [CLI, 'run', caseFile, '--report-dir', reportDir, '--progress', 'plain', '--jobs', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const qemu = /qemu pid (\d+) in namespace/.exec(out);
      const ns = /neutron: namespaces (.+)/.exec(out);
      if (qemu && ns) {
        child.stdout!.off('data', onData);
        resolve({ child, qemuPid: Number(qemu[1]), namespaces: ns[1]!.trim().split(', '), output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`cloudprobe run exited (${code}) before QEMU started:\n${out}`)));
  });
}

const exitOf = (child: ChildProcess) => new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));

describe('a neutron cell killed mid-boot', () => {
  it('SIGKILL leaves no QEMU, dnsmasq or haproxy; the next run sweeps the namespaces, and SIGTERM of that run removes its own', async () => {
    const first = await startRun(join(dir, 'r1'));
    const daemons = (await Promise.all(first.namespaces.map(namespacePids))).flat();
    expect(daemons.length, first.output()).toBeGreaterThanOrEqual(3); // dnsmasq, two haproxys (+ relay, QEMU)
    expect(daemons).toContain(first.qemuPid);
    const killed = exitOf(first.child);
    first.child.kill('SIGKILL');
    await killed;
    // Parent-death signals: QEMU and every daemon end although no handler ran.
    expect(await waitFor(() => processGone(first.qemuPid), 15_000), 'qemu gone').toBe(true);
    expect(await waitFor(() => daemons.every(processGone), 15_000), `daemons gone: ${daemons.filter((p) => !processGone(p)).join(' ')}`).toBe(true);
    // Namespaces outlive a SIGKILL; the next run removes them before it boots anything.
    const left = await listNamespaces();
    for (const ns of first.namespaces) expect(left, ns).toContain(ns);

    const second = await startRun(join(dir, 'r2'));
    const afterSweep = await listNamespaces();
    for (const ns of first.namespaces) expect(afterSweep, `${ns} swept`).not.toContain(ns);
    for (const ns of second.namespaces) expect(afterSweep).toContain(ns);
    const own = (await Promise.all(second.namespaces.map(namespacePids))).flat();
    const stopped = exitOf(second.child);
    second.child.kill('SIGTERM');
    const exit = await stopped;
    expect(exit.code ?? exit.signal, second.output()).toBe(143);
    expect(own.every(processGone), 'its processes are gone').toBe(true);
    const finally_ = await listNamespaces();
    for (const ns of second.namespaces) expect(finally_, `${ns} removed`).not.toContain(ns);
  });
});
