import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xmlText } from '../../harness/report/junit.ts';
import { REDACTED, redactText, usableSecrets } from '../../harness/util/redact.ts';
import { writeReports } from '../../harness/report/write.ts';
import { ADMIN_PASS, fixtureReport, SECRET } from '../helpers/report-fixture.ts';

let dir: string;
let files: Record<string, string>;
const text: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-report-'));
  files = await writeReports(fixtureReport(join(dir, 'artifacts')), dir, [SECRET, ADMIN_PASS, '1']);
  for (const [k, p] of Object.entries(files)) text[k] = await readFile(p, 'utf8');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('reports', () => {
  it('writes the four files and nothing else (no temp files left)', async () => {
    expect((await readdir(dir)).sort()).toEqual(['junit.xml', 'matrix.html', 'matrix.md', 'results.json']);
  });

  it('never contain a secret, in any file, raw or escaped', () => {
    const escapedAdmin = ADMIN_PASS.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    for (const [k, t] of Object.entries(text)) {
      expect(t, k).not.toContain(SECRET);
      expect(t, k).not.toContain(ADMIN_PASS);
      expect(t, k).not.toContain(escapedAdmin);
      expect(t, k).not.toContain(JSON.stringify(ADMIN_PASS).slice(1, -1));
    }
    // …but the places they were are still visibly there, redacted.
    expect(text.json).toContain(REDACTED);
    expect(text.junit).toContain(`set password ${REDACTED} for`);
  });

  it('results.json is the whole run, parseable, with the summary', () => {
    const r = JSON.parse(text.json!) as { summary: Record<string, number>; results: { id: string; outcome: string }[]; skipped: unknown[] };
    expect(r.summary).toMatchObject({ cells: 4, passed: 1, failed: 1, errors: 1, skipped: 1, vmMsTotal: 543_000 + 421_000, retried: 1 });
    expect(r.results.map((x) => x.outcome)).toEqual(['pass', 'fail', 'error']);
  });

  it('the Markdown matrix: per case, images as rows, scenarios as columns, links to artifacts', () => {
    const md = text.markdown!;
    // Cases that ran first, the all-skipped one last and as one line.
    expect([...md.matchAll(/^## (.+)$/gm)].map((m) => m[1])).toEqual(['multi-nic', 'seed-article', 'cirros', 'Failures', 'Run again', 'Skipped']);
    const seed = md.slice(md.indexOf('## seed-article'), md.indexOf('## cirros'));
    expect(seed).toContain('| image | configdrive-iso9660 · static | configdrive-vfat · dhcp |');
    // The release the guest really ran, from its console, beside the image.
    const eniRow = seed.split('\n').find((l) => l.startsWith('| debian-12-eni (cloud-init 22.4.2) |'))!;
    expect(eniRow).toBe('| debian-12-eni (cloud-init 22.4.2) | [✅ pass](artifacts/seed-article/debian-12-eni/configdrive-iso9660/static/) (1 n/a, ↻ run 2×) |  |');
    expect(seed).toContain('| debian-12-netplan |  | [❌ fail](artifacts/seed-article/debian-12-netplan/configdrive-vfat/dhcp/) |');
    expect(md).toContain('| debian-12-eni | [💥 error](artifacts/multi-nic/debian-12-eni/metadata-openstack/multi-nic-dhcp/) |');
    expect(md).toMatch(/## cirros\n\nAll 1 cells skipped: 1× cirros-0\.6\.3 applies only dhcp/);
    expect(md).toMatch(/\*\*timezone\*\*: timezone is Etc\/UTC, expected Asia\/Shanghai/);
    expect(md).toContain('- **ssh-banner**: no SSH banner');
    expect(md).toMatch(/## Skipped\n\n- cirros\/cirros-0\.6\.3\/configdrive-iso9660\/static: cirros-0\.6\.3 applies only dhcp/);
  });

  it('a cell run again after an error is named in every report, with its earlier try', () => {
    const results = JSON.parse(text.json!);
    expect(results.summary.retried).toBe(1);
    // The earlier try's VM time counts too.
    expect(results.summary.vmMsTotal).toBe(112_000 + 131_000 + 300_000 + 421_000);
    const line = 'try 1 errored at ssh-banner after 7m1s: no SSH banner on 127.0.0.1:40022 within 420 s';
    const md = text.markdown!;
    expect(md).toContain('1 run again after an error');
    expect(md).toMatch(/\| debian-12-eni \(cloud-init 22\.4\.2\) \| [^\n]*↻ run 2×/);
    expect(md).toContain('## Run again');
    expect(md).toContain('- seed-article/debian-12-eni/configdrive-iso9660/static: pass on try 2');
    expect(md).toContain(`  - ${line}`);
    expect(md).toContain('configdrive-iso9660/static.attempt-1/');
    expect(md, 'only the first line of the message').not.toContain('second line');
    expect(text.html).toContain('↻ run 2× (after an error)');
    expect(text.html).toContain(`<li>${line}`);
    expect(text.junit).toMatch(new RegExp(`<property name="retried-after-try-1" value="${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('the HTML matrix is self-contained: no scripts, no external resources, only relative links', () => {
    const html = text.html!;
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import/i);
    const urls = [...html.matchAll(/(?:href|src)="([^"]*)"/g)].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThan(5);
    for (const u of urls) expect(u, u).toMatch(/^(#cell-|artifacts\/)/);
    expect(html).not.toMatch(/url\(/);
    expect(html).toContain('href="artifacts/seed-article/debian-12-eni/configdrive-iso9660/static/serial.log"');
    // Every matrix badge points at a section that exists.
    for (const a of html.matchAll(/href="#(cell-[^"]+)"/g)) expect(html).toContain(`id="${a[1]}"`);
  });

  it('the HTML escapes what it shows and drops terminal escapes', () => {
    expect(text.html).toContain('for &lt;ubuntu&gt; &amp; root');
    expect(text.html).not.toContain('\x1b');
    expect(text.html).toContain('[  OK  ] Started ssh.service');
  });
});

describe('redaction and XML text', () => {
  it('ignores secrets too short to redact sensibly, longest first', () => {
    expect(usableSecrets(['1', 'abcd', 'abcdef'])).toEqual(['abcdef', 'abcd']);
    expect(redactText('x abcdef y abcd', usableSecrets(['abcd', 'abcdef']))).toBe(`x ${REDACTED} y ${REDACTED}`);
  });
  it('strips what XML 1.0 cannot carry', () => {
    expect(xmlText('a\x00b\x1b[31mc\x07<d>&')).toBe('abc&lt;d&gt;&amp;');
  });
});
