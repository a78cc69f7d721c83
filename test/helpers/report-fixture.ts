import type { CellResult, CellSpec, SkippedCell } from '../../harness/model/cell.ts';
import { summarize, type RunReport } from '../../harness/report/model.ts';
import { buildTimeline } from '../../harness/run/timeline.ts';

/** A small run: one pass (with an n/a), one fail, one error (console tail with escapes), one skipped. */

export const SECRET = 'Xq7pLmN3vR9sT2wK4yZ8';
export const ADMIN_PASS = 'adm<&>"Pa55';

function spec(id: string): Omit<CellSpec, 'secrets'> {
  const [caseName = '', image = '', datasource = 'configdrive-iso9660', network = 'dhcp'] = id.split('/');
  return {
    id,
    caseName,
    image,
    datasource: datasource as CellSpec['datasource'],
    datasourceLabel: datasource,
    networkBackend: 'user',
    imdsv2: 'off',
    network,
    instance: {
      uuid: '0b6f5c8e-1f7a-4c1e-9d7f-3a1e2b4c5d6e',
      name: 'cloud',
      hostname: 'cloud.yunshan.net',
      project_id: 'cloudprobe',
      availability_zone: 'nova',
      launch_index: 0,
      meta: {},
      public_keys: { run: 'ssh-ed25519 AAAAC3Nza run' },
      admin_pass: ADMIN_PASS,
      user_data: `#cloud-config\nchpasswd: { users: [{ name: ubuntu, password: "${SECRET}", type: text }] }\n`,
      vendor_data: {},
      vendor_data2: {},
      files: [],
      nics: [{ mac: '52:54:00:12:34:56', mode: 'dhcp', dns: [] }],
    },
    expectations: { hostname: 'cloud', passwordLogin: [{ user: 'ubuntu', password: SECRET }] },
  };
}

const PASS_TIMINGS = { process: 10, kernel: 2_000, 'ssh-banner': 70_000, 'ssh-login': 80_000, 'cloud-init': 100_000, probes: 106_000, done: 108_000, totalMs: 112_000 };
/** cloud-init's stage banners as a console shows them (cloud-init 25.1 on trixie, uptimes shifted). */
export const PASS_CONSOLE = [
  '[    0.000000] Linux version 6.12.57+deb13-amd64 (debian-kernel@lists.debian.org)',
  "[   41.707818] cloud-init[361]: Cloud-init v. 25.1.4 running 'init-local' at Fri, 04 Dec 2026 20:15:15 +0000. Up 41.31 seconds.",
  "[   55.441136] cloud-init[361]: Cloud-init v. 25.1.4 running 'init' at Fri, 04 Dec 2026 20:15:29 +0000. Up 55.33 seconds.",
  "[   62.743669] cloud-init[361]: Cloud-init v. 25.1.4 running 'modules:config' at Fri, 04 Dec 2026 20:15:35 +0000. Up 61.32 seconds.",
  "[   65.490730] cloud-init[361]: Cloud-init v. 25.1.4 running 'modules:final' at Fri, 04 Dec 2026 20:15:39 +0000. Up 65.28 seconds.",
  '[   68.387571] cloud-init[361]: Cloud-init v. 25.1.4 finished at Fri, 04 Dec 2026 20:15:42 +0000. Datasource DataSourceConfigDrive [net,ver=2][source=/dev/sr0].  Up 68.16 seconds',
  '',
].join('\n');

export function fixtureReport(artifactsRoot: string): RunReport {
  const base = (id: string) => ({ id, cell: spec(id), accel: { use: 'tcg' as const, reason: 'KVM unusable: probe guest hung' }, artifactsDir: `${artifactsRoot}/${id}`, artifacts: { serial: 'serial.log', 'cloud-init.log': 'cloud-init.log' } });
  const pass: CellResult = {
    ...base('seed-article/debian-12-eni/configdrive-iso9660/static'),
    cloudInitVersion: '22.4.2',
    outcome: 'pass',
    stage: 'done',
    // Passed on its second try: the first timed out waiting for SSH (a secret in its message too).
    retriedAfter: [
      {
        stage: 'ssh-banner',
        error: { stage: 'ssh-banner', message: `no SSH banner on 127.0.0.1:40022 within 420 s (console: password ${SECRET})\nsecond line`, consoleTail: 'tail' },
        erroredProbes: [],
        totalMs: 421_000,
        artifactsDir: `${artifactsRoot}/seed-article/debian-12-eni/configdrive-iso9660/static.attempt-1`,
      },
    ],
    timings: PASS_TIMINGS,
    timeline: buildTimeline(PASS_TIMINGS, PASS_CONSOLE),
    verdicts: [
      { probe: 'hostname', status: 'pass', summary: 'hostname is cloud, fqdn cloud.yunshan.net', evidence: { hostname: 'cloud\n' }, durationMs: 120 },
      { probe: 'password-login', status: 'pass', summary: `ubuntu logs in with the password; a wrong one is refused`, expected: { user: 'ubuntu', password: SECRET }, durationMs: 900 },
      { probe: 'metadata-requests', status: 'n/a', summary: 'config drive: no metadata service in this cell' },
    ],
  };
  const fail: CellResult = {
    ...base('seed-article/debian-12-netplan/configdrive-vfat/dhcp'),
    outcome: 'fail',
    stage: 'done',
    timings: { totalMs: 131_000 },
    verdicts: [
      { probe: 'hostname', status: 'pass', summary: 'hostname is cloud' },
      { probe: 'timezone', status: 'fail', summary: 'timezone is Etc/UTC, expected Asia/Shanghai', expected: 'Asia/Shanghai', observed: 'Etc/UTC', evidence: { 'cat /etc/timezone': 'Etc/UTC\n', 'chpasswd log': `set password ${SECRET} for <ubuntu> & root` } },
    ],
  };
  const error: CellResult = {
    ...base('multi-nic/debian-12-eni/metadata-openstack/multi-nic-dhcp'),
    outcome: 'error',
    stage: 'ssh-banner',
    timings: { process: 12, kernel: 1_900, totalMs: 300_000 },
    timeline: buildTimeline({ process: 12, kernel: 1_900, totalMs: 300_000 }, ''),
    verdicts: [],
    error: {
      stage: 'ssh-banner',
      message: 'no SSH banner on 127.0.0.1:40022 within 240 s',
      hint: 'is sshd starting? look at the console tail',
      consoleTail: `\x1b[0;32m[  OK  ]\x1b[0m Started ssh.service\x00\x07\n[   93.1] cloud-init[412]: password ${SECRET} <set>\n`,
    },
  };
  const skipped: SkippedCell[] = [
    { id: 'cirros/cirros-0.6.3/configdrive-iso9660/static', caseName: 'cirros', image: 'cirros-0.6.3', datasource: 'configdrive-iso9660', datasourceLabel: 'configdrive-iso9660', network: 'static', reason: 'cirros-0.6.3 applies only dhcp from network_data.json, not a static address', kind: 'inapplicable' },
  ];
  const results = [pass, fail, error];
  return {
    tool: 'cloudprobe',
    version: '0.1.0',
    startedAt: '2026-11-30T10:00:00.000Z',
    finishedAt: '2026-11-30T10:05:00.000Z',
    wallMs: 300_000,
    jobs: 2,
    interrupted: false,
    results,
    skipped,
    summary: summarize(results, skipped),
  };
}
