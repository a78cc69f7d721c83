import { describe, expect, it } from 'vitest';
import { buildCard, renderCardHtml, renderCardMarkdown } from '../../harness/certify/card.ts';
import { certifyName } from '../../harness/certify/image-file.ts';
import type { CellResult, SkippedCell } from '../../harness/model/cell.ts';
import type { ProbeVerdict } from '../../harness/model/probe.ts';
import { summarize, type RunReport } from '../../harness/report/model.ts';

// The card from a run's report alone: verdict per combination, why, and the facts table.

const NAME = 'certify-trixie';
const image = { path: '/images/trixie <test>.qcow2', name: NAME, format: 'qcow2' as const, virtualSizeBytes: 2 * 1024 ** 3, fileSizeBytes: 400 * 1024 ** 2, sha256: 'a'.repeat(64) };
const detected = {
  defaultUser: { name: 'ubuntu', from: "cloud-init's system config (system_info.default_user)" },
  cloudInitVersion: { version: '25.1.4', from: '`cloud-init --version`' },
  renderer: { name: 'netplan', from: 'cloud-init.log ("Selected renderer")', harness: 'netplan' as const },
  firstNic: 'eth0',
  os: 'Debian GNU/Linux 13 (trixie)',
};

function result(ds: string, net: string, outcome: CellResult['outcome'], verdicts: ProbeVerdict[], extra: Partial<CellResult> = {}): CellResult {
  const id = `certify/${NAME}/${ds}/${net}`;
  return {
    id,
    cell: { id, caseName: 'certify', image: NAME, datasource: ds as never, datasourceLabel: ds, network: net, imdsv2: 'off', networkBackend: 'user', instance: {} as never, expectations: {} },
    outcome,
    verdicts,
    stage: outcome === 'error' && extra.error ? extra.error.stage : 'done',
    accel: { use: 'tcg', reason: 't' },
    timings: { totalMs: 90_000 },
    artifactsDir: `/r/artifacts/${id}`,
    artifacts: {},
    ...extra,
  };
}

const ok: ProbeVerdict = { probe: 'hostname', status: 'pass', summary: 'hostname cloud' };
const results = [
  result('configdrive-iso9660', 'dhcp', 'pass', [ok, { probe: 'user-data-schema', status: 'pass', summary: 'valid; 1 deprecated key: chpasswd.list (deprecated in 22.2)' }]),
  result('configdrive-iso9660', 'static', 'fail', [ok, { probe: 'nic-mode', status: 'fail', summary: 'eth0 has 10.0.2.15/24 by DHCP, expected static 10.0.2.50/24' }]),
  result('metadata-openstack', 'dhcp', 'error', [], { error: { stage: 'ssh-banner', message: 'no SSH banner within 420 s\nconsole tail…' } }),
  result('metadata-openstack', 'neutron-l3-agent', 'pass', [ok], {
    retriedAfter: [{ stage: 'cloud-init', error: { stage: 'cloud-init', message: 'timed out' }, erroredProbes: [], totalMs: 400_000, artifactsDir: '/r/a.attempt-1' }],
  }),
];
const skipped: SkippedCell[] = [
  { id: `certify/${NAME}/metadata-ec2/static`, caseName: 'certify', image: NAME, datasource: 'metadata-ec2', datasourceLabel: 'metadata-ec2', network: 'static', reason: 'metadata-ec2 carries no network configuration', kind: 'inapplicable' },
  { id: `certify/${NAME}/metadata-openstack/neutron-dhcp-agent`, caseName: 'certify', image: NAME, datasource: 'metadata-openstack', datasourceLabel: 'metadata-openstack', network: 'neutron-dhcp-agent', reason: 'the neutron network backend cannot run here: needs root', kind: 'unavailable' },
];
const report: RunReport = { tool: 'cloudprobe', version: 't', startedAt: 's', finishedAt: '2026-12-04T05:00:00.000Z', wallMs: 1, jobs: 2, interrupted: false, results, skipped, summary: summarize(results, skipped) };
const card = buildCard({ version: '0.1.0', image, detected, report, datasources: ['configdrive-iso9660', 'metadata-openstack', 'metadata-ec2'], networks: ['dhcp', 'static', 'neutron-l3-agent', 'neutron-dhcp-agent'] });

describe('the certify card', () => {
  it('maps each run outcome to what it means for the image, with why', () => {
    const by = Object.fromEntries(card.entries.map((e) => [`${e.datasource} ${e.network}`, e]));
    expect(by['configdrive-iso9660 dhcp']).toMatchObject({ verdict: 'works', why: [], notes: ['valid; 1 deprecated key: chpasswd.list (deprecated in 22.2)'] });
    expect(by['configdrive-iso9660 static']).toMatchObject({ verdict: 'fails', why: ['nic-mode: eth0 has 10.0.2.15/24 by DHCP, expected static 10.0.2.50/24'] });
    // The harness could not look: never "fails"; only the message's first line.
    expect(by['metadata-openstack dhcp']).toMatchObject({ verdict: 'could not check', why: ['stopped at ssh-banner: no SSH banner within 420 s'] });
    expect(by['metadata-openstack neutron-l3-agent']).toMatchObject({ verdict: 'works', notes: ['try 1 could not check (cloud-init): timed out'] });
    expect(by['metadata-ec2 static']).toMatchObject({ verdict: 'n/a', why: ['metadata-ec2 carries no network configuration'] });
    expect(by['metadata-openstack neutron-dhcp-agent']).toMatchObject({ verdict: 'not run here' });
    expect(card.summary).toEqual({ works: 2, fails: 1, 'could not check': 1, 'n/a': 1, 'not run here': 1 });
    // Datasource order, then network order.
    expect(card.entries.map((e) => `${e.datasource}/${e.network}`)).toEqual([
      'configdrive-iso9660/dhcp',
      'configdrive-iso9660/static',
      'metadata-openstack/dhcp',
      'metadata-openstack/neutron-l3-agent',
      'metadata-openstack/neutron-dhcp-agent',
      'metadata-ec2/static',
    ]);
  });

  it('Markdown: what the image is, the datasource × network table (— where a combination is not in the matrix), why', () => {
    const md = renderCardMarkdown(card);
    expect(md).toContain('# cloudprobe certify: trixie <test>.qcow2');
    expect(md).toContain("| default user | ubuntu (cloud-init's system config (system_info.default_user)) |");
    expect(md).toContain('| cloud-init | 25.1.4 (`cloud-init --version`) |');
    expect(md).toContain('| file | /images/trixie <test>.qcow2 (qcow2, 2.0 GiB virtual, 400 MiB on disk) |');
    expect(md).toContain('| datasource | dhcp | static | neutron-l3-agent | neutron-dhcp-agent |');
    expect(md).toContain('| configdrive-iso9660 | ✅ works | ❌ fails | — | — |');
    expect(md).toContain('| metadata-openstack | 💥 could not check | — | ✅ works | ⏭ not run here |');
    expect(md).toContain('| metadata-ec2 | — | ➖ n/a | — | — |');
    expect(md).toContain('2 work, 1 fail, 1 could not be checked, 1 n/a, 1 not run here.');
    expect(md).toContain('- **configdrive-iso9660 · static**: ❌ fails (1m30s)\n  - nic-mode: eth0 has 10.0.2.15/24 by DHCP, expected static 10.0.2.50/24');
  });

  it('HTML escapes what it shows and has no scripts', () => {
    const html = renderCardHtml(card);
    expect(html).toContain('trixie &lt;test&gt;.qcow2');
    expect(html).not.toContain('<test>');
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect(html).toContain('<td class="fails" title="nic-mode: eth0 has 10.0.2.15/24 by DHCP, expected static 10.0.2.50/24">❌ fails</td>');
  });

  it('names a file as a cell id allows', () => {
    expect(certifyName('/x/noble-server-cloudimg-amd64.img')).toBe('certify-noble-server-cloudimg-amd64');
    expect(certifyName('/x/My Image (v2).QCOW2')).toBe('certify-my-image-v2');
    expect(certifyName('/x/...')).toBe('certify-image');
  });
});
