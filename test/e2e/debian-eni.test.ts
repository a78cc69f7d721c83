import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureImage } from '../../harness/images/ensure.ts';
import type { CellResult } from '../../harness/model/cell.ts';
import { usesMetadataService } from '../../harness/model/datasources.ts';
import { describeMatrix, planCaseFiles } from '../../harness/vitest/index.ts';
import { runProbes } from '../../harness/probes/run.ts';
import type { ProbeVerdict } from '../../harness/model/probe.ts';
import { runKeyPair } from '../../harness/ssh/keys.ts';

/**
 * The small e2e tier (CI runs it on every change), through the same planner, runner and probes as
 * `cloudprobe run`: cases/seed-article.yaml on debian-12-eni is three boots — iso9660 config drive +
 * static NIC, vfat config drive + DHCP, metadata service + DHCP — at most two at a time. The password
 * is the article's own `1` (root:1, ubuntu:1). The iso9660 boot also judges a deliberately wrong
 * expectation (timezone Europe/Paris), which must fail and say why, without another boot.
 */

const IMAGE = process.env.CLOUDPROBE_E2E_IMAGE ?? 'debian-12-eni';
const REPORT_DIR = join(process.env.REPORT_DIR ?? 'reports', 'e2e', IMAGE);

await ensureImage(IMAGE);
const plan = await planCaseFiles(['cases/seed-article.yaml'], {
  images: [IMAGE],
  credentials: { sshPublicKey: runKeyPair().publicKey, password: '1' },
});
let wrongTimezone: ProbeVerdict | undefined;

describe('the plan', () => {
  it('is the three delivery paths of the seed article', () => {
    expect(plan.cells.map((c) => `${c.datasource}/${c.network}`).sort()).toEqual([
      'configdrive-iso9660/static',
      'configdrive-vfat/dhcp',
      'metadata-openstack/dhcp',
    ]);
  });
});

describeMatrix(plan, {
  jobs: 2,
  reportDir: REPORT_DIR,
  title: `${IMAGE}: the seed article's user data`,
  cellOptions: (cell) =>
    cell.datasource === 'configdrive-iso9660'
      ? {
          inspect: async (ctx) => {
            [wrongTimezone] = await runProbes({ ...ctx, expectations: { ...ctx.expectations, timezone: 'Europe/Paris' } }, ['timezone']);
          },
        }
      : {},
});

// Runs after the matrix suite (and its afterAll, which wrote results.json).
describe('evidence and artifacts', () => {
  it('a deliberately wrong expectation (timezone Europe/Paris) fails and says why', () => {
    expect(wrongTimezone, 'judged inside the iso9660 boot').toBeDefined();
    expect(wrongTimezone!.status).toBe('fail');
    expect(wrongTimezone!.summary).toContain('/etc/timezone says "Asia/Shanghai", expected "Europe/Paris"');
    expect(wrongTimezone!.evidence?.['$ cat /etc/timezone']).toBe('Asia/Shanghai');
  });

  it('every cell kept its console, cloud-init logs, status, rendered network config (and metadata log)', async () => {
    const report = JSON.parse(await readFile(join(REPORT_DIR, 'results.json'), 'utf8')) as { results: CellResult[] };
    expect(report.results).toHaveLength(3);
    for (const r of report.results) {
      const kinds = ['serial', 'cloudInitLog', 'cloudInitOutput', 'cloudInitStatus', 'networkConfig', ...(usesMetadataService(r.cell.datasource) ? ['metadataRequests'] : [])];
      for (const kind of kinds) expect(r.artifacts[kind], `${r.id}: artifact ${kind}`).toBeDefined();
      for (const v of r.verdicts.filter((x) => x.status === 'pass')) {
        expect(Object.keys(v.evidence ?? {}).length, `${r.id}: ${v.probe} has evidence`).toBeGreaterThan(0);
      }
      const rendered = await readFile(join(r.artifactsDir, r.artifacts.networkConfig!), 'utf8');
      expect(rendered).toMatch(r.cell.network === 'static' ? /inet static[\s\S]*10\.0\.2\.50/ : /inet dhcp/);
      expect(r.timings['cloud-init']).toBeGreaterThan(r.timings['ssh-banner']!);
      // QEMU's high-water mark, read before it stopped: a booted Debian guest touches well over 100 MiB.
      expect(r.qemuPeakRssMiB, `${r.id}: QEMU peak RSS`).toBeGreaterThan(100);
    }
  });
});
