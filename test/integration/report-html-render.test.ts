import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { which } from '../../harness/host/tools.ts';
import { writeReports } from '../../harness/report/write.ts';
import { countColor, decodePng } from '../helpers/png.ts';
import { ADMIN_PASS, fixtureReport, SECRET } from '../helpers/report-fixture.ts';

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-render-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Debian's chromium, headless, offline, with a throw-away profile (`make deps` installs it). */
async function screenshot(html: string, png: string, size = '1280,900'): Promise<void> {
  const chromium = await which('chromium');
  if (!chromium) throw new Error('chromium not found (renders the HTML report); install the Debian package chromium (make deps does)');
  const profile = join(dir, 'profile');
  await run(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      `--user-data-dir=${profile}`,
      `--screenshot=${png}`,
      `--window-size=${size}`,
      pathToFileURL(html).href,
    ],
    { timeout: 120_000 },
  );
}

describe('HTML report in headless Chromium', () => {
  it('renders the matrix: a non-blank screenshot with pass, fail and error badges', async () => {
    const files = await writeReports(fixtureReport(join(dir, 'artifacts')), dir, [SECRET, ADMIN_PASS]);
    const png = join(dir, 'matrix.png');
    await screenshot(files.html, png);
    expect((await stat(png)).size).toBeGreaterThan(10_000);
    const img = decodePng(await readFile(png));
    expect([img.width, img.height]).toEqual([1280, 900]);
    const white = countColor(img, '#ffffff', 2);
    expect(white / (img.width * img.height)).toBeLessThan(0.98);
    // The badge colours from the report's CSS: the matrix really rendered, styled.
    expect(countColor(img, '#1f883d')).toBeGreaterThan(100); // pass
    expect(countColor(img, '#cf222e')).toBeGreaterThan(100); // fail
    expect(countColor(img, '#8250df')).toBeGreaterThan(100); // error
    if (process.env.CLOUDPROBE_KEEP_SCREENSHOT) await copyFile(png, process.env.CLOUDPROBE_KEEP_SCREENSHOT);
  });

  it('draws the boot timeline: each cloud-init stage and the probes in their own colour', async () => {
    const files = await writeReports(fixtureReport(join(dir, 'artifacts-tl')), join(dir, 'tl'), [SECRET, ADMIN_PASS]);
    const png = join(dir, 'timeline.png');
    // Tall enough to show the section below the matrices.
    await screenshot(files.html, png, '1280,2600');
    const img = decodePng(await readFile(png));
    // Colours only the timeline uses (harness/report/timeline-html.ts): init, modules:final, probes.
    for (const colour of ['#0969da', '#bf3989', '#2da44e']) expect(countColor(img, colour), colour).toBeGreaterThan(200);
    if (process.env.CLOUDPROBE_KEEP_SCREENSHOT) await copyFile(png, `${process.env.CLOUDPROBE_KEEP_SCREENSHOT}.timeline.png`);
  });
});
