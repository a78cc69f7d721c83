import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Runs a real vitest (child process) on a suite made with describeMatrix, with a stand-in cell
// runner whose verdicts are known, and reads vitest's own JSON report of what passed and failed.
const ROOT = resolve('.');
let dir: string;
let report: { testResults: { assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[] };
const SECRET = 'Vt9kQ2mZ7xLp4RwS';

const SUITE = `
import { describeMatrix } from '${ROOT}/harness/vitest/index.ts';
const instance = { uuid: 'u', name: 'n', hostname: 'n', project_id: 'p', availability_zone: 'nova', launch_index: 0, meta: {}, public_keys: {}, vendor_data: {}, vendor_data2: {}, files: [], nics: [] };
const cell = (id) => ({ id, caseName: 'c', image: 'img', datasource: 'configdrive-iso9660', imdsv2: 'off', network: 'dhcp', instance, expectations: {}, secrets: ['${SECRET}'] });
const base = (c) => ({ id: c.id, cell: c, accel: { use: 'tcg', reason: 'test' }, timings: { totalMs: 5 }, artifactsDir: '/tmp/a/' + c.id, artifacts: {} });
const runCell = async (c) => {
  if (c.id === 'c/img/ok/dhcp') return { ...base(c), outcome: 'fail', stage: 'done', verdicts: [
    { probe: 'hostname', status: 'pass', summary: 'hostname ok' },
    { probe: 'timezone', status: 'fail', summary: 'timezone is Etc/UTC, expected Asia/Shanghai', evidence: { 'cat /etc/timezone': 'Etc/UTC' } },
    { probe: 'password-login', status: 'fail', summary: 'refused', expected: { user: 'ubuntu', password: '${SECRET}' } },
    { probe: 'metadata-requests', status: 'n/a', summary: 'config drive cell' },
  ] };
  return { ...base(c), outcome: 'error', stage: 'ssh-banner', verdicts: [], error: { stage: 'ssh-banner', message: 'no banner', consoleTail: 'kernel panic ${SECRET}' } };
};
describeMatrix({ cells: [cell('c/img/ok/dhcp'), cell('c/img/dead/dhcp')], skipped: [{ id: 'c/img2/x/static', caseName: 'c', image: 'img2', datasource: 'x', network: 'static', reason: 'not cached', kind: 'unavailable' }] },
  { jobs: 2, runCell, reportDir: process.env.REPORT_OUT });
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-vitest-api-'));
  await writeFile(join(dir, 'matrix.test.mjs'), SUITE);
  await writeFile(join(dir, 'vitest.config.mjs'), `export default { test: { include: ['matrix.test.mjs'] } };\n`);
  const out = join(dir, 'vitest.json');
  const r = await execa(join(ROOT, 'node_modules/.bin/vitest'), ['run', '--root', dir, '--reporter=json', `--outputFile=${out}`], {
    cwd: dir,
    reject: false,
    env: { ...process.env, REPORT_OUT: join(dir, 'reports') },
    timeout: 120_000,
  });
  expect(r.exitCode, r.stderr).toBe(1); // the suite has failing probes, so vitest must fail
  report = JSON.parse(await readFile(out, 'utf8'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('describeMatrix (vitest API)', () => {
  const status = () => Object.fromEntries(report.testResults[0]!.assertionResults.map((a) => [a.fullName, a.status]));
  const failure = (name: string) => report.testResults[0]!.assertionResults.find((a) => a.fullName === name)!.failureMessages.join('\n');

  it('gives one test per cell × probe: pass passes, fail fails, n/a and missing verdicts skip', () => {
    const s = status();
    expect(s['cloudprobe matrix c/img/ok/dhcp boot']).toBe('passed');
    expect(s['cloudprobe matrix c/img/ok/dhcp hostname']).toBe('passed');
    expect(s['cloudprobe matrix c/img/ok/dhcp timezone']).toBe('failed');
    expect(s['cloudprobe matrix c/img/ok/dhcp metadata-requests']).toBe('skipped');
    expect(s['cloudprobe matrix c/img/ok/dhcp runcmd']).toBe('skipped');
    expect(failure('cloudprobe matrix c/img/ok/dhcp timezone')).toContain('timezone is Etc/UTC, expected Asia/Shanghai');
    expect(failure('cloudprobe matrix c/img/ok/dhcp timezone')).toContain('--- cat /etc/timezone\nEtc/UTC');
  });

  it('a cell that never reached its probes fails its boot test with stage and console tail', () => {
    expect(status()['cloudprobe matrix c/img/dead/dhcp boot']).toBe('failed');
    expect(failure('cloudprobe matrix c/img/dead/dhcp boot')).toMatch(/stopped at ssh-banner: no banner[\s\S]*console tail\nkernel panic/);
    expect(status()['cloudprobe matrix c/img/dead/dhcp hostname']).toBe('skipped');
  });

  it('skipped cells show as skipped tests', () => {
    expect(status()['cloudprobe matrix c/img2/x/static skipped: not cached']).toBe('skipped');
  });

  it('keeps secrets out of failure messages and writes the same reports as cloudprobe run', async () => {
    expect(JSON.stringify(report)).not.toContain(SECRET);
    expect(failure('cloudprobe matrix c/img/ok/dhcp password-login')).toContain('[redacted]');
    for (const f of ['results.json', 'junit.xml', 'matrix.md', 'matrix.html']) expect(existsSync(join(dir, 'reports', f)), f).toBe(true);
    expect(await readFile(join(dir, 'reports', 'junit.xml'), 'utf8')).not.toContain(SECRET);
  });
});
