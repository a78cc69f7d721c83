import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcomeOf, type CellResult } from '../../harness/model/cell.ts';
import type { ProbeVerdict } from '../../harness/model/probe.ts';
import { summarize, type RunReport } from '../../harness/report/model.ts';
import { writeReports } from '../../harness/report/write.ts';
import { ADMIN_PASS, fixtureReport, SECRET } from '../helpers/report-fixture.ts';

/**
 * Probes that could not run (status error) in every report: the fixture run plus a cell whose only
 * problem is an errored probe (outcome error, but it booted) and one with a fail and an error
 * (outcome fail: what was seen to be wrong comes first).
 */

const ERRORED_ID = 'seed-article/debian-12-eni/configdrive-vfat/dhcp';
const MIXED_ID = 'seed-article/debian-12-netplan/configdrive-iso9660/static';
const LOST = `probe could not run: readlink /etc/localtime: ssh exec "readlink /etc/localtime": No response from server`;

let dir: string;
const text: Record<string, string> = {};

function withVerdicts(template: CellResult, id: string, verdicts: ProbeVerdict[]): CellResult {
  const { retriedAfter: _retried, ...once } = template;
  return { ...once, id, cell: { ...template.cell, id }, artifactsDir: template.artifactsDir.replace(template.id, id), stage: 'done', verdicts, outcome: outcomeOf(verdicts) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-report-error-'));
  const base = fixtureReport(join(dir, 'artifacts'));
  const template = base.results[0]!;
  const errored = withVerdicts(template, ERRORED_ID, [
    { probe: 'hostname', status: 'pass', summary: 'hostname cloud', evidence: { '$ hostname': 'cloud' } },
    { probe: 'timezone', status: 'error', summary: LOST, evidence: { '$ cat /etc/timezone': 'Asia/Shanghai', '$ readlink /etc/localtime': '[no result: No response from server]' } },
  ]);
  const mixed = withVerdicts(template, MIXED_ID, [
    { probe: 'runcmd', status: 'fail', summary: 'runcmd did not create /yunshan' },
    { probe: 'datasource', status: 'error', summary: 'probe could not run: cat /run/cloud-init/result.json: exit 1' },
  ]);
  const results = [...base.results, errored, mixed];
  const report: RunReport = { ...base, results, summary: summarize(results, base.skipped) };
  const files = await writeReports(report, dir, [SECRET, ADMIN_PASS]);
  for (const [k, p] of Object.entries(files)) text[k] = await readFile(p, 'utf8');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The XML of one testsuite, by cell id. */
function suite(xml: string, id: string): string {
  const start = xml.indexOf(`<testsuite name="${id}"`);
  expect(start, id).toBeGreaterThan(-1);
  return xml.slice(start, xml.indexOf('</testsuite>', start));
}

describe('an errored probe in the reports', () => {
  it('results.json carries status error, and a cell with only errors is outcome error', () => {
    const r = JSON.parse(text.json!) as { results: CellResult[]; summary: { errors: number; failed: number } };
    const errored = r.results.find((x) => x.id === ERRORED_ID)!;
    expect(errored.outcome).toBe('error');
    expect(errored.verdicts.find((v) => v.probe === 'timezone')).toMatchObject({ status: 'error', summary: LOST });
    expect(r.results.find((x) => x.id === MIXED_ID)!.outcome).toBe('fail');
    expect(r.summary).toMatchObject({ errors: 2, failed: 2 });
  });

  it('JUnit: <error> inside its testcase (not <failure>), counted in errors= of the suite and the whole', () => {
    const xml = text.junit!;
    const s = suite(xml, ERRORED_ID);
    expect(s).toMatch(/^<testsuite [^>]*failures="0" errors="1"/);
    expect(s).toMatch(new RegExp(`<testcase classname="${ERRORED_ID}" name="timezone" [^>]*>\\n\\s*<error message="probe could not run: readlink /etc/localtime: ssh exec &quot;readlink /etc/localtime&quot;: No response from server" type="timezone">`));
    expect(s).toContain('--- $ readlink /etc/localtime\n[no result: No response from server]</error>');
    expect(s).not.toContain('<failure');
    // The cell booted: its boot testcase is no error.
    expect(s).toMatch(/name="boot" [^>]*>\n\s*<system-out>/);
    const m = suite(xml, MIXED_ID);
    expect(m).toMatch(/^<testsuite [^>]*failures="1" errors="1"/);
    expect(m).toMatch(/name="runcmd" [^>]*>\n\s*<failure /);
    expect(m).toMatch(/name="datasource" [^>]*>\n\s*<error /);
    // The whole run: the fixture's boot error plus the two errored probes; every <error> counted once.
    const top = /<testsuites [^>]*failures="(\d+)" errors="(\d+)"/.exec(xml)!;
    expect([Number(top[1]), Number(top[2])]).toEqual([2, 3]);
    expect(xml.match(/<error /g)).toHaveLength(3);
    expect(xml.match(/<failure /g)).toHaveLength(2);
  });

  it('Markdown: the 💥 error badge, never ❌, for the cell and for the probe that could not run', () => {
    const md = text.markdown!;
    expect(md).toContain(`[💥 error](artifacts/seed-article/debian-12-eni/configdrive-vfat/dhcp/) (💥 1 could not run)`);
    expect(md).toContain(`[❌ fail](artifacts/seed-article/debian-12-netplan/configdrive-iso9660/static/) (💥 1 could not run)`);
    expect(md).toContain(`- 💥 **timezone** (error): ${LOST}`);
    expect(md).toContain('- **runcmd**: runcmd did not create /yunshan');
    expect(md).toContain('- 💥 **datasource** (error): probe could not run: cat /run/cloud-init/result.json: exit 1');
    expect(md).not.toMatch(/^- \*\*timezone\*\*: probe could not run/m);
  });

  it('HTML: an error badge and chip, in the error colour, distinct from fail', () => {
    const html = text.html!;
    expect(html).toContain('<tr><td>timezone</td><td><span class="badge error">error</span></td>');
    expect(html).toContain('<tr><td>runcmd</td><td><span class="badge fail">fail</span></td>');
    expect(html).toMatch(/<span class="chip error" title="timezone: error — probe could not run[^"]*">timezone error<\/span>/);
    expect(html).toContain('1 probe(s) could not run');
    const colour = (cls: string) => new RegExp(`\\.${cls}\\{background:(#[0-9a-f]{6})\\}`).exec(html)?.[1];
    expect(colour('error')).toBeDefined();
    expect(colour('error')).not.toBe(colour('fail'));
  });
});
