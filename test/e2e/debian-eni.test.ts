import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImage } from '../../harness/images/ensure.ts';
import type { CellResult, CellSpec } from '../../harness/matrix/cell.ts';
import { runCell } from '../../harness/matrix/run-cell.ts';
import { PROBE_NAMES, type ProbeVerdict } from '../../harness/probes/verdict.ts';
import { runProbes } from '../../harness/probes/run.ts';
import { generateKeyPair } from '../../harness/ssh/keys.ts';
import { DHCP_NIC, STATIC_NIC, seedCell } from './helpers/seed.ts';

/**
 * The small e2e tier (CI runs it on every change): debian-12-eni booted three ways with the seed
 * article's user data — iso9660 config drive + static NIC, vfat config drive + DHCP, metadata
 * service + DHCP — at most two VMs at a time. Every probe must pass with evidence. The first boot
 * also judges a deliberately wrong expectation (timezone Europe/Paris), which must fail and say why.
 */

const IMAGE = process.env.CLOUDPROBE_E2E_IMAGE ?? 'debian-12-eni';
const key = generateKeyPair('e2e-seed');
let root: string;
const results = new Map<string, CellResult>();
let wrongTimezone: ProbeVerdict | undefined;

async function run(cell: CellSpec): Promise<void> {
  const result = await runCell(cell, {
    artifactsRoot: root,
    keep: 'on-failure',
    sshKey: key,
    log: (l) => process.stdout.write(`[${cell.id}] ${l}\n`),
    ...(cell.datasource === 'configdrive-iso9660'
      ? {
          inspect: async (ctx) => {
            [wrongTimezone] = await runProbes({ ...ctx, expectations: { ...ctx.expectations, timezone: 'Europe/Paris' } }, ['timezone']);
          },
        }
      : {}),
  });
  results.set(cell.datasource, result);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cloudprobe-e2e-'));
  await ensureImage(IMAGE);
  const cells = await Promise.all([
    seedCell({ image: IMAGE, datasource: 'configdrive-iso9660', nic: STATIC_NIC, publicKey: key.publicKey, name: 'seed-iso' }),
    seedCell({ image: IMAGE, datasource: 'configdrive-vfat', nic: DHCP_NIC, publicKey: key.publicKey, name: 'seed-vfat' }),
    seedCell({ image: IMAGE, datasource: 'metadata-openstack', nic: DHCP_NIC, publicKey: key.publicKey, name: 'seed-mds' }),
  ]);
  // Two at a time on two cores: the first pair, then the third.
  await Promise.all([run(cells[0]!), run(cells[1]!)]);
  await run(cells[2]!);
});

afterAll(async () => {
  const failed = [...results.values()].some((r) => r.outcome !== 'pass');
  if (failed || process.env.CLOUDPROBE_E2E_KEEP) process.stdout.write(`e2e artifacts kept in ${root}\n`);
  else await rm(root, { recursive: true, force: true });
});

function summary(r: CellResult | undefined): string {
  if (!r) return 'no result';
  return JSON.stringify({ outcome: r.outcome, error: r.error, failed: r.verdicts.filter((v) => v.status !== 'pass').map((v) => `${v.probe}: ${v.status}: ${v.summary}`) }, null, 2);
}

describe(`${IMAGE}: the seed article's user data`, () => {
  for (const [datasource, nicMode, dsName] of [
    ['configdrive-iso9660', 'static', 'ConfigDrive'],
    ['configdrive-vfat', 'dhcp', 'ConfigDrive'],
    ['metadata-openstack', 'dhcp', 'OpenStack'],
  ] as const) {
    it(`${datasource} + ${nicMode} NIC: every probe passes with evidence`, async () => {
      const r = results.get(datasource);
      expect(r?.outcome, summary(r)).toBe('pass');
      expect(r!.accel.use).toMatch(/^(kvm|tcg)$/);
      expect(r!.verdicts.map((v) => v.probe)).toEqual([...PROBE_NAMES]);
      const by = Object.fromEntries(r!.verdicts.map((v) => [v.probe, v]));
      const applicable = PROBE_NAMES.filter((p) => !(p === 'multi-nic' || (p === 'metadata-requests' && !datasource.startsWith('metadata-'))));
      for (const p of applicable) {
        expect(by[p]?.status, `${p}: ${by[p]?.summary}`).toBe('pass');
        expect(Object.keys(by[p]?.evidence ?? {}).length, `${p} has evidence`).toBeGreaterThan(0);
      }
      expect(by['multi-nic']?.status).toBe('n/a');
      expect(by.datasource?.observed).toMatch(new RegExp(`^DataSource${dsName}`));
      expect(by['nic-mode']?.summary).toContain(nicMode);
      if (nicMode === 'static') expect(by['nic-mode']?.observed).toEqual([expect.stringContaining('10.0.2.50/24')]);
      expect(by.hostname?.observed).toEqual({ hostname: 'cloud', etcHostname: 'cloud', fqdn: 'cloud.yunshan.net' });
      // Artifacts: console, cloud-init logs, status JSON, rendered network config (and the metadata log).
      for (const kind of ['serial', 'cloudInitLog', 'cloudInitOutput', 'cloudInitStatus', 'networkConfig', ...(datasource.startsWith('metadata-') ? ['metadataRequests'] : [])]) {
        expect(r!.artifacts[kind], `artifact ${kind}`).toBeDefined();
      }
      const rendered = await readFile(join(r!.artifactsDir, r!.artifacts.networkConfig!), 'utf8');
      expect(rendered).toMatch(nicMode === 'static' ? /inet static/ : /inet dhcp/);
      expect(r!.timings['cloud-init']).toBeGreaterThan(r!.timings['ssh-banner']!);
    });
  }

  it('a deliberately wrong expectation (timezone Europe/Paris) fails and says why', () => {
    expect(wrongTimezone, 'judged inside the iso9660 boot').toBeDefined();
    expect(wrongTimezone!.status).toBe('fail');
    expect(wrongTimezone!.summary).toContain('/etc/timezone says "Asia/Shanghai", expected "Europe/Paris"');
    expect(wrongTimezone!.evidence?.['$ cat /etc/timezone']).toBe('Asia/Shanghai');
  });
});
