import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReports } from '../../harness/report/write.ts';
import { ADMIN_PASS, fixtureReport, SECRET } from '../helpers/report-fixture.ts';

// JUnit validity is checked by a strict, independent parser: Python's expat-based ElementTree.
const PARSE = `
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
out = {"tag": root.tag, "attrib": root.attrib, "suites": []}
for s in root.findall("testsuite"):
    cases = []
    for c in s.findall("testcase"):
        kids = [{"tag": k.tag, "attrib": k.attrib, "text": k.text or ""} for k in c]
        cases.append({"attrib": c.attrib, "children": kids})
    out["suites"].append({"attrib": s.attrib, "cases": cases})
print(json.dumps(out))
`;

interface Parsed {
  tag: string;
  attrib: Record<string, string>;
  suites: { attrib: Record<string, string>; cases: { attrib: Record<string, string>; children: { tag: string; attrib: Record<string, string>; text: string }[] }[] }[];
}

let dir: string;
let parsed: Parsed;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-junit-'));
  const files = await writeReports(fixtureReport(join(dir, 'artifacts')), dir, [SECRET, ADMIN_PASS]);
  parsed = JSON.parse(execFileSync('python3', ['-c', PARSE, files.junit], { encoding: 'utf8' })) as Parsed;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('junit.xml', () => {
  it('parses back, with totals that match its test cases', () => {
    expect(parsed.tag).toBe('testsuites');
    const cases = parsed.suites.flatMap((s) => s.cases);
    expect(Number(parsed.attrib.tests)).toBe(cases.length);
    const count = (tag: string) => cases.filter((c) => c.children.some((k) => k.tag === tag)).length;
    expect(Number(parsed.attrib.failures)).toBe(count('failure'));
    expect(Number(parsed.attrib.errors)).toBe(count('error'));
    expect(Number(parsed.attrib.skipped)).toBe(count('skipped'));
    for (const s of parsed.suites) expect(Number(s.attrib.tests)).toBe(s.cases.length);
  });

  it('has one testcase per cell × probe, plus the cell\'s boot', () => {
    const names = (id: string) => parsed.suites.find((s) => s.attrib.name === id)!.cases.map((c) => `${c.attrib.classname}:${c.attrib.name}`);
    const id = 'seed-article/debian-12-eni/configdrive-iso9660/static';
    expect(names(id)).toEqual([`${id}:boot`, `${id}:hostname`, `${id}:password-login`, `${id}:metadata-requests`]);
  });

  it('a failed probe is a <failure> with its summary and evidence', () => {
    const suite = parsed.suites.find((s) => s.attrib.name === 'seed-article/debian-12-netplan/configdrive-vfat/dhcp')!;
    const tz = suite.cases.find((c) => c.attrib.name === 'timezone')!.children[0]!;
    expect(tz.tag).toBe('failure');
    expect(tz.attrib.message).toBe('timezone is Etc/UTC, expected Asia/Shanghai');
    expect(tz.text).toContain('--- cat /etc/timezone\nEtc/UTC');
    expect(tz.text).toContain('for <ubuntu> & root');
  });

  it('a cell that never reached its probes is an <error> naming the stage, with the console tail', () => {
    const suite = parsed.suites.find((s) => s.attrib.name === 'multi-nic/debian-12-eni/metadata-openstack/multi-nic-dhcp')!;
    const boot = suite.cases[0]!.children[0]!;
    expect(boot.tag).toBe('error');
    expect(boot.attrib.type).toBe('ssh-banner');
    expect(boot.attrib.message).toMatch(/^ssh-banner: no SSH banner/);
    expect(boot.text).toContain('--- console tail\n[  OK  ] Started ssh.service');
  });

  it('n/a verdicts and skipped cells are <skipped> with the reason', () => {
    const cases = parsed.suites.flatMap((s) => s.cases);
    const na = cases.find((c) => c.attrib.name === 'metadata-requests')!.children[0]!;
    expect(na).toMatchObject({ tag: 'skipped', attrib: { message: 'config drive: no metadata service in this cell' } });
    const sk = parsed.suites.find((s) => s.attrib.name?.startsWith('cirros/'))!.cases[0]!.children[0]!;
    expect(sk.tag).toBe('skipped');
    expect(sk.attrib.message).toMatch(/applies only dhcp/);
  });

  it('carries no secret', () => {
    expect(JSON.stringify(parsed)).not.toContain(SECRET);
    expect(JSON.stringify(parsed)).not.toContain(ADMIN_PASS);
  });
});
