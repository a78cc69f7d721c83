import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureImage } from '../../harness/images/ensure.ts';
import type { CellResult } from '../../harness/model/cell.ts';
import { describeMatrix, planCaseFiles } from '../../harness/vitest/index.ts';

/**
 * The netplan flavour (netplan.io + systemd-networkd, /etc/netplan/50-cloud-init.yaml) on one
 * path of the seed article: iso9660 config drive + static NIC. Not in the CI tier (one more
 * ~2 min boot, and `make test` does not build this image): runs with CLOUDPROBE_E2E_FULL=1.
 * `make e2e` covers this image fully through the matrix.
 */

const IMAGE = 'debian-12-netplan';
const REPORT_DIR = join(process.env.REPORT_DIR ?? 'reports', 'e2e', IMAGE);
const enabled = Boolean(process.env.CLOUDPROBE_E2E_FULL);

if (enabled) {
  await ensureImage(IMAGE);
  const plan = await planCaseFiles(['cases/seed-article.yaml'], { images: [IMAGE], filter: ['configdrive-iso9660/static'] });
  describeMatrix(plan, { jobs: 1, reportDir: REPORT_DIR, title: `${IMAGE}: the seed article's user data` });
}

describe.skipIf(!enabled)(`${IMAGE}: rendered by netplan`, () => {
  it('cloud-init rendered the static NIC into 50-cloud-init.yaml', async () => {
    const report = JSON.parse(await readFile(join(REPORT_DIR, 'results.json'), 'utf8')) as { results: CellResult[] };
    const [r] = report.results;
    expect(r?.outcome).toBe('pass');
    expect(r!.artifacts.networkConfig).toBe('network-config/50-cloud-init.yaml');
    expect(Object.keys(r!.verdicts.find((v) => v.probe === 'nic-mode')!.evidence!)).toContain('$ cat /etc/netplan/50-cloud-init.yaml');
    expect(await readFile(join(r!.artifactsDir, r!.artifacts.networkConfig!), 'utf8')).toContain('10.0.2.50/24');
  });
});
