import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { neutronAvailability } from '../../harness/network/neutron/availability.ts';
import { listNamespaces, namespacePids } from '../../harness/network/neutron/ip.ts';
import { runPrefix } from '../../harness/network/neutron/names.ts';
import { processRunning, sweepStale } from '../../harness/network/neutron/sweep.ts';
import { buildTopology, type Topology } from '../../harness/network/neutron/topology.ts';
import type { TopologySpec } from '../../harness/model/topology.ts';

/**
 * Leftovers of a killed run: a topology whose names say its owner is a pid that is gone (a real
 * process that has exited), with its daemons and a stray process (a QEMU left running) inside.
 * The next run's sweep must remove all of it, and leave a live owner's topology alone.
 */

const spec: TopologySpec = {
  networks: [{ name: 'private', router: 'r1', metadata: 'both', subnet: { cidr: '172.16.11.0/24' } }],
  ports: [{ network: 'private', mac: 'fa:16:3e:00:00:0e', device_id: '0e0e0e0e-0000-4000-8000-00000000000e', tenant_id: 'p', nic: 'veth' }],
};
const nova = { host: '127.0.0.1', port: 9, secret: 'unused' };
const open: Topology[] = [];
let work: string | undefined;

afterAll(async () => {
  for (const t of open) await t.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('sweeping what a killed run left', () => {
  it('removes namespaces, processes and socket dirs of a dead owner, and nothing of a live one', async () => {
    work = await mkdtemp(join(tmpdir(), 'cloudprobe-neutron-sweep-'));
    const gone = spawn('true');
    await new Promise((resolve) => gone.once('exit', resolve));
    const deadPid = gone.pid!;
    expect(deadPid).not.toBe(process.pid);
    expect(Number.isInteger(deadPid)).toBe(true);
    expect(await processRunning(deadPid)).toBe(false);

    const stale = await buildTopology({ cell: 'sweep', ownerPid: deadPid, workDir: join(work, 'stale'), nova, spec, sweep: false });
    open.push(stale);
    const live = await buildTopology({ cell: 'live', workDir: join(work, 'live'), nova, spec, sweep: false });
    open.push(live);
    // A process left in the segment, as a QEMU of the killed run would be.
    const stray = spawn('ip', ['netns', 'exec', stale.segmentNamespace, 'sleep', '600'], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !(await namespacePids(stale.segmentNamespace)).includes(stray.pid!); i++) await new Promise((r) => setTimeout(r, 25));
    expect(await namespacePids(stale.segmentNamespace)).toContain(stray.pid);

    const staleNs = stale.namespaces();
    const daemons = stale.processes().map((d) => d.pid);
    expect(staleNs.every((n) => n.startsWith(`${runPrefix(deadPid)}-sweep-`))).toBe(true);
    expect(daemons).toHaveLength(3); // dnsmasq, haproxy in qdhcp, haproxy in qrouter
    expect((await stat(stale.names.socketDir())).isDirectory()).toBe(true);

    const result = await sweepStale();
    expect(result.errors).toEqual([]);

    expect(result.namespaces.sort()).toEqual([...staleNs].sort());
    expect(result.socketDirs).toEqual([stale.names.socketDir()]);
    expect(result.killed).toEqual(expect.arrayContaining([...daemons, stray.pid]));
    const listed = await listNamespaces();
    for (const ns of staleNs) expect(listed).not.toContain(ns);
    for (const pid of [...daemons, stray.pid!]) expect(await processRunning(pid), `pid ${pid}`).toBe(false);
    await expect(stat(stale.names.socketDir())).rejects.toThrow(/ENOENT/);
    // The live owner's topology is untouched and still works.
    for (const ns of live.namespaces()) expect(listed).toContain(ns);
    expect(live.processes()).toHaveLength(3);
    expect((await stat(live.agent.socketPath)).isSocket()).toBe(true);

    // The swept topology's own teardown finds everything gone and says nothing.
    expect(await stale.close()).toEqual([]);
    expect(await live.close()).toEqual([]);
    expect((await listNamespaces()).filter((n) => n.startsWith(`${runPrefix()}-`) || n.startsWith(`${runPrefix(deadPid)}-`))).toEqual([]);
  });

  it('takes a live pid with another start time for what it is: a reused pid, so stale', async () => {
    const small: TopologySpec = { networks: [{ name: 'quiet', metadata: 'none', subnet: { cidr: '10.60.0.0/24', enable_dhcp: false } }], ports: [] };
    const reused = await buildTopology({ cell: 'reused', workDir: join(work!, 'reused'), nova, spec: small, sweep: false });
    open.push(reused);
    const live = await buildTopology({ cell: 'mine', workDir: join(work!, 'mine'), nova, spec: small, sweep: false });
    open.push(live);
    // As if this pid had belonged to a process that started at boot tick 1 and was killed.
    await writeFile(join(reused.names.socketDir(), 'owner'), `${process.pid} 1\n`);
    const result = await sweepStale();
    expect(result.namespaces.sort()).toEqual(reused.namespaces().sort());
    const listed = await listNamespaces();
    for (const ns of live.namespaces()) expect(listed).toContain(ns);
    expect(await reused.close()).toEqual([]);
    expect(await live.close()).toEqual([]);
  });
});

describe('after SIGKILL of the harness', () => {
  it('no dnsmasq or haproxy survives it, and the next sweep removes its namespaces and sockets', async () => {
    const childWork = await mkdtemp(join(tmpdir(), 'cloudprobe-neutron-kill-'));
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./helpers/network-neutron-child.ts', import.meta.url)), childWork], { stdio: ['ignore', 'pipe', 'pipe'] });
    type Built = { namespaces: string[]; pids: number[]; socketDir: string };
    let swept = false;
    try {
      const built = await new Promise<Built>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line && out.includes('\n')) resolve(JSON.parse(line) as Built);
        });
        child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
        child.once('exit', (code) => reject(new Error(`child exited ${code} before building: ${err}`)));
      });
      expect(built.pids).toHaveLength(3);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      // The kernel's parent-death signal: bounded wait for the daemons to be gone.
      // (A zombie is gone too: this machine's init may reap orphans late.)
      const running = async () => (await Promise.all(built.pids.map(processRunning))).some(Boolean);
      for (let i = 0; i < 200 && (await running()); i++) await new Promise((r) => setTimeout(r, 25));
      for (const pid of built.pids) expect(await processRunning(pid), `pid ${pid}`).toBe(false);
      // Namespaces outlive a SIGKILL: the next run's sweep is what removes them.
      const left = await listNamespaces();
      for (const ns of built.namespaces) expect(left).toContain(ns);
      const result = await sweepStale();
      swept = true;
      expect(result.namespaces.sort()).toEqual([...built.namespaces].sort());
      expect(result.socketDirs).toEqual([built.socketDir]);
      const after = await listNamespaces();
      for (const ns of built.namespaces) expect(after).not.toContain(ns);
    } finally {
      child.kill('SIGKILL');
      // Whatever happened, the killed child's leftovers go.
      if (!swept) await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
      if (!swept) await sweepStale();
      await rm(childWork, { recursive: true, force: true });
    }
  });
});

describe('availability for doctor', () => {
  it('is available here, after really building a namespace with bridge, tap and REDIRECT, which it removes', async () => {
    const before = await listNamespaces();
    const r = await neutronAvailability();
    expect(r).toEqual({ available: true, reasons: [] });
    expect(await listNamespaces()).toEqual(before);
  });

  it('names the Debian package of a missing tool, and then does not probe', async () => {
    const { which } = await import('../../harness/host/tools.ts');
    const r = await neutronAvailability({ which: async (cmd) => (cmd === 'dnsmasq' || cmd === 'haproxy' ? undefined : which(cmd)) });
    expect(r.available).toBe(false);
    expect(r.reasons).toEqual([
      'dnsmasq not found: install Debian package dnsmasq-base (DHCP in qdhcp namespaces)',
      'haproxy not found: install Debian package haproxy (the metadata proxies)',
    ]);
  });
});
