import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureImage } from '../../harness/images/ensure.ts';
import type { CellResult } from '../../harness/model/cell.ts';
import { neutronAvailability } from '../../harness/network/neutron/availability.ts';
import { runKeyPair } from '../../harness/ssh/keys.ts';
import { describeMatrix, planCaseFiles } from '../../harness/vitest/index.ts';

/**
 * The neutron tier of the e2e tests (part of `make test`): real debian-12-eni boots with real
 * cloud-init on taps inside network namespaces, dnsmasq on the DHCP port, haproxy in front of
 * the metadata agent — four cells of cases/neutron.yaml, two at a time:
 *   l3-agent             169.254.169.254 via the router (iptables REDIRECT → 9697 → haproxy)
 *   dhcp-agent           169.254.169.254 on the DHCP port, host route by option 121
 *   no-dhcp-configdrive  a subnet without DHCP: the static address only from the config drive
 *   l3-agent-no-router   the network on no router: judged from the console (metadata unreachable,
 *                        DataSourceNone, host name not from metadata, the NIC still has its lease)
 * Needs root (namespaces, taps): without it the file says why and skips.
 */

const IMAGE = 'debian-12-eni';
const REPORT_DIR = join(process.env.REPORT_DIR ?? 'reports', 'e2e', 'neutron');
const CELLS = ['l3-agent', 'dhcp-agent', 'no-dhcp-configdrive', 'l3-agent-no-router'];

const neutron = await neutronAvailability();
await ensureImage(IMAGE);
const plan = await planCaseFiles(['cases/neutron.yaml'], {
  images: [IMAGE],
  filter: CELLS.map((c) => `*/${c}`),
  credentials: { sshPublicKey: runKeyPair().publicKey, password: '1' },
});

describe.skipIf(!neutron.available)(`neutron networks${neutron.available ? '' : ` (skipped: ${neutron.reasons.join('; ')})`}`, () => {
  it('the plan is the four cells, each on the neutron backend', () => {
    expect(plan.cells.map((c) => c.network).sort()).toEqual([...CELLS].sort());
    for (const c of plan.cells) expect(c.networkBackend, c.id).toBe('neutron');
  });

  describeMatrix(plan, { jobs: 2, reportDir: REPORT_DIR, title: `${IMAGE} on neutron networks` });

  // Runs after the matrix suite (and its afterAll, which wrote results.json).
  describe('evidence', () => {
    const results = async () => {
      const report = JSON.parse(await readFile(join(REPORT_DIR, 'results.json'), 'utf8')) as { results: CellResult[] };
      return new Map(report.results.map((r) => [r.cell.network, r]));
    };

    it('each path was the one taken: the DHCP port for dhcp-agent, the router for l3-agent', async () => {
      const by = await results();
      const path = (cell: string) => by.get(cell)?.verdicts.find((v) => v.probe === 'metadata-path');
      expect(path('dhcp-agent')?.observed).toMatchObject({ nextHop: '172.16.11.2', router: 0 });
      expect(path('l3-agent')?.observed).toMatchObject({ nextHop: '172.16.11.1', dhcp: 0 });
      expect((path('l3-agent')?.observed as { router: number }).router).toBeGreaterThan(0);
    });

    it('the router-less network was judged from its console, with the lines that show it', async () => {
      const r = (await results()).get('l3-agent-no-router')!;
      const by = Object.fromEntries(r.verdicts.map((v) => [v.probe, v]));
      expect(by['no-datasource']?.observed).toEqual({ datasource: 'DataSourceNone' });
      expect(by['metadata-unreachable']?.evidence?.['console: calls to 169.254.169.254 that failed']).toMatch(/169\.254\.169\.254|No active metadata service/);
      expect(by['nic-state']?.status).toBe('pass');
      const console = await readFile(join(r.artifactsDir, r.artifacts.serial!), 'utf8');
      expect(console).toMatch(/Cloud-init v\. \S+ finished at .*Datasource DataSourceNone/);
    });

    it('the network topology and the agents’ logs are kept with each cell', async () => {
      for (const r of (await results()).values()) {
        const topology = JSON.parse(await readFile(join(r.artifactsDir, 'network', 'topology.json'), 'utf8')) as { networks: unknown[] };
        expect(topology.networks.length, r.id).toBeGreaterThan(0);
      }
    });
  });
});
