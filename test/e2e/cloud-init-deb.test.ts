import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { findBuilt } from '../../harness/images/build.ts';
import { inspectCloudInitDeb } from '../../harness/images/cloud-init-deb.ts';
import { ensureImage } from '../../harness/images/ensure.ts';
import { getManifest } from '../../harness/images/manifest.ts';
import type { CellResult } from '../../harness/model/cell.ts';
import { runKeyPair } from '../../harness/ssh/keys.ts';
import { describeMatrix, planCaseFiles } from '../../harness/vitest/index.ts';
import { makePatchedCloudInitDeb } from '../helpers/cloud-init-deb.ts';

/**
 * "Test the cloud-init you built": a cloud-init package changed and packed again as a developer
 * would (its own version string, so the console proves which cloud-init ran), named by a case's
 * `cloud_init_deb`. The cell builds a derived debian-12-eni with it (mmdebstrap, apt installs the
 * local file), boots it with the seed article's user data on an iso9660 config drive + static
 * NIC, and every probe passes. The image's own build is left as it was; the derived build is
 * removed at the end (each run packs a new .deb, so it would never be reused).
 */

const IMAGE = 'debian-12-eni';
const REPORT_DIR = join(process.env.REPORT_DIR ?? 'reports', 'e2e', 'cloud-init-deb');
const work = await mkdtemp(join(tmpdir(), 'cloudprobe-cideb-'));
const deb = await makePatchedCloudInitDeb(work);
const own = await ensureImage(IMAGE);
const ownBuilt = (await findBuilt(await getManifest(IMAGE)))!.record;

const seed = parse(await readFile('cases/seed-article.yaml', 'utf8')) as Record<string, unknown>;
const caseFile = join(work, 'own-cloud-init.yaml');
await writeFile(
  caseFile,
  stringify({ ...seed, name: 'own-cloud-init', images: [IMAGE], datasources: ['configdrive-iso9660'], networks: ['static'], exclude: [], cloud_init_deb: 'cloud-init_' + deb.debVersion + '_all.deb' }),
);
const plan = await planCaseFiles([caseFile], { credentials: { sshPublicKey: runKeyPair().publicKey, password: 'own-cloud-init-pw' } });

afterAll(async () => {
  const derived = await findBuilt(await getManifest(IMAGE), { cloudInitDeb: await inspectCloudInitDeb(deb.file, 'test') });
  if (derived?.path) await rm(dirname(dirname(derived.path)), { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

describe('the plan', () => {
  it('is one cell carrying the package (path beside the case file, digest, version)', () => {
    expect(plan.cells.map((c) => c.id)).toEqual(['own-cloud-init/debian-12-eni/configdrive-iso9660/static']);
    expect(plan.cells[0]!.cloudInitDeb).toMatchObject({ file: deb.file, version: deb.debVersion });
    expect(plan.cells[0]!.cloudInitDeb!.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describeMatrix(plan, { jobs: 1, reportDir: REPORT_DIR, title: `${IMAGE} with its cloud-init replaced` });

describe('your own cloud-init', () => {
  it('the guest ran the packaged cloud-init (its console says so), and every probe passed', async () => {
    const report = JSON.parse(await readFile(join(REPORT_DIR, 'results.json'), 'utf8')) as { results: CellResult[] };
    const [r] = report.results;
    expect(r?.outcome, JSON.stringify(r?.error ?? r?.verdicts.filter((v) => v.status !== 'pass'))).toBe('pass');
    expect(r!.cloudInitVersion).toBe(deb.cloudInitVersion);
    expect(r!.cell.cloudInitDeb?.version).toBe(deb.debVersion);
  });

  it("the derived build records the package; the image's own build is untouched", async () => {
    const manifest = await getManifest(IMAGE);
    const derived = await findBuilt(manifest, { cloudInitDeb: await inspectCloudInitDeb(deb.file, 'test') });
    expect(derived?.record.cloudInitDeb).toMatchObject({ file: deb.file, version: deb.debVersion });
    expect(derived!.path).not.toBe(own.path);
    // <cache>/debian-12-eni/cloud-init-<digest>/build-<hash>/disk.qcow2, beside <cache>/debian-12-eni/build-<hash>/.
    expect(derived!.path!.startsWith(join(dirname(dirname(own.path!)), 'cloud-init-'))).toBe(true);
    const still = (await findBuilt(manifest))!;
    expect(still.record.builtAt).toBe(ownBuilt.builtAt);
    expect(still.path).toBe(own.path);
    expect((await stat(own.path!)).isFile()).toBe(true);
  });
});
