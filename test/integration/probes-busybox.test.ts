import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImage } from '../../harness/images/ensure.ts';
import type { CellResult } from '../../harness/model/cell.ts';
import { PROBE_NAMES, type ProbeVerdict } from '../../harness/model/probe.ts';
import { planFromFiles } from '../../harness/plan/plan-files.ts';
import { runProbes } from '../../harness/probes/run.ts';
import { runCell } from '../../harness/run/run-cell.ts';
import { runKeyPair } from '../../harness/ssh/keys.ts';

/**
 * Every probe on a BusyBox userland (the fixture: BusyBox 1.35 + dropbear, as on Cirros): a real
 * boot, then all probes with the image's not-applicable list emptied, so each one really runs
 * against `ip` without -j, BusyBox's coreutils and no cloud-init. Each must give a verdict with
 * evidence; none may crash, and none may be an error (the guest answered every command).
 */

let dir: string;
let result: CellResult;
let everything: ProbeVerdict[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-probes-busybox-'));
  await ensureImage('fixture-busybox');
  const caseFile = join(dir, 'busybox.yaml');
  await writeFile(
    caseFile,
    [
      'name: busybox',
      'images: [fixture-busybox]',
      'datasources: [configdrive-iso9660]',
      'networks: [dhcp]',
      'instance:',
      '  name: bb',
      '  hostname: bb.example',
      '  public_keys: { k: "${SSH_PUBLIC_KEY}" }',
      '  user_data: |',
      '    #cloud-config',
      '    runcmd: [mkdir /yunshan]',
      'expect:',
      '  hostname: bb',
      '  fqdn: bb.example',
      '  etc_hosts: { fqdn: bb.example, hostname: bb }',
      '  authorized_keys: [{ user: root, keys: ["${SSH_PUBLIC_KEY}"] }]',
      '  password_login: [{ user: root, password: "${PASSWORD}" }]',
      '  timezone: Asia/Shanghai',
      '  runcmd_paths: [/yunshan]',
      '',
    ].join('\n'),
  );
  const plan = await planFromFiles([caseFile], { credentials: { sshPublicKey: runKeyPair().publicKey, password: 'not-used-here' } });
  expect(plan.cells, JSON.stringify(plan.skipped)).toHaveLength(1);
  result = await runCell(plan.cells[0]!, {
    artifactsRoot: join(dir, 'artifacts'),
    keep: 'never',
    inspect: async (ctx) => {
      everything = await runProbes({ ...ctx, image: { ...ctx.image, notApplicable: {}, nicModes: ['dhcp', 'static'] } });
    },
  });
}, 600_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('every probe on a BusyBox guest', () => {
  it('the cell booted and its own probes ran', () => {
    expect(result.stage, JSON.stringify(result.error)).toBe('done');
  });

  it('gives a verdict for each probe, with evidence wherever it looked, and no error', () => {
    expect(everything.map((v) => v.probe)).toEqual([...PROBE_NAMES]);
    for (const v of everything) {
      expect(['pass', 'fail', 'n/a'], `${v.probe}: ${v.status} — ${v.summary}`).toContain(v.status);
      if (v.status !== 'n/a') expect(Object.keys(v.evidence ?? {}).length, `${v.probe} has evidence`).toBeGreaterThan(0);
    }
  });

  it('reads the NIC without ip -j: eth0 by DHCP, the running udhcpc as its lease', () => {
    const nic = everything.find((v) => v.probe === 'nic-mode')!;
    expect(nic.status, nic.summary).toBe('pass');
    expect(nic.summary).toMatch(/DHCP client: udhcpc -i eth0/);
    expect(Object.keys(nic.evidence ?? {}).join('\n')).toMatch(/ip addr show/);
  });

  it('judges what it sees: keys pass; the fixture sets the whole name and has no cloud-init, which fail and say so', () => {
    const by = Object.fromEntries(everything.map((v) => [v.probe, v]));
    // The fixture's init sets the metadata hostname as is, where cloud-init would cut it at the dot.
    expect(by.hostname?.status).toBe('fail');
    expect(by.hostname?.summary).toContain('hostname is "bb.example", expected "bb"');
    expect(by['authorized-keys']?.status, by['authorized-keys']?.summary).toBe('pass');
    expect(by.runcmd?.status).toBe('fail');
  });
});
