import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImage } from '../../harness/images/ensure.ts';
import type { CellResult } from '../../harness/matrix/cell.ts';
import { runCell } from '../../harness/matrix/run-cell.ts';
import { PROBE_NAMES } from '../../harness/probes/verdict.ts';
import { generateKeyPair } from '../../harness/ssh/keys.ts';
import { STATIC_NIC, seedCell } from './helpers/seed.ts';

/**
 * The netplan flavour (netplan.io + systemd-networkd, /etc/netplan/50-cloud-init.yaml) on one
 * path: iso9660 config drive + static NIC. Not in the CI tier (one more ~2 min boot): runs only
 * with CLOUDPROBE_E2E_FULL=1.
 */

const IMAGE = 'debian-12-netplan';
const key = generateKeyPair('e2e-netplan');
let root: string;
let result: CellResult | undefined;

describe.skipIf(!process.env.CLOUDPROBE_E2E_FULL)(`${IMAGE}: the seed article's user data`, () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'cloudprobe-e2e-netplan-'));
    await ensureImage(IMAGE);
    const cell = await seedCell({ image: IMAGE, datasource: 'configdrive-iso9660', nic: STATIC_NIC, publicKey: key.publicKey, name: 'seed-netplan' });
    result = await runCell(cell, { artifactsRoot: root, keep: 'on-failure', sshKey: key, log: (l) => process.stdout.write(`[${cell.id}] ${l}\n`) });
  });

  afterAll(async () => {
    if (result?.outcome === 'pass') await rm(root, { recursive: true, force: true });
    else process.stdout.write(`artifacts kept in ${root}\n`);
  });

  it('configdrive-iso9660 + static NIC: every probe passes, rendered by netplan', async () => {
    const r = result!;
    expect(r.outcome, JSON.stringify({ error: r.error, failed: r.verdicts.filter((v) => v.status === 'fail') }, null, 2)).toBe('pass');
    const by = Object.fromEntries(r.verdicts.map((v) => [v.probe, v]));
    for (const p of PROBE_NAMES.filter((n) => n !== 'multi-nic' && n !== 'metadata-requests')) {
      expect(by[p]?.status, `${p}: ${by[p]?.summary}`).toBe('pass');
    }
    expect(Object.keys(by['nic-mode']!.evidence!)).toContain('$ cat /etc/netplan/50-cloud-init.yaml');
    const rendered = await readFile(join(r.artifactsDir, r.artifacts.networkConfig!), 'utf8');
    expect(rendered).toContain('10.0.2.50/24');
    expect(r.artifacts.networkConfig).toBe('network-config/50-cloud-init.yaml');
  });
});
