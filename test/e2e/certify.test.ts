import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Card } from '../../harness/certify/card.ts';
import { ensureImage } from '../../harness/images/ensure.ts';

/**
 * `cloudprobe certify FILE` on the built Debian images, given as plain files: the harness knows
 * nothing about them but what it finds out by booting them (no manifest is read). debian-13-netplan
 * gets the discovery boot, then — with CLOUDPROBE_E2E_FULL=1 — the whole card (every datasource ×
 * DHCP/static and neutron's l3-agent and dhcp-agent paths, ~20 min under TCG); in `make test` two
 * of its combinations (a static NIC from an iso9660 drive, the l3-agent path), the rest shown as
 * not run. debian-12-eni is told its user (--user, no discovery boot) and checks the vfat drive.
 */

const CLI = resolve('bin/cloudprobe.js');
const REPORTS = resolve(process.env.REPORT_DIR ?? 'reports', 'e2e', 'certify');
const trixie = (await ensureImage('debian-13-netplan')).path!;
const bookworm = (await ensureImage('debian-12-eni')).path!;
const full = Boolean(process.env.CLOUDPROBE_E2E_FULL);
const TRIXIE_CI_CELLS = ['configdrive-iso9660/static', 'metadata-openstack/neutron-l3-agent'];
const TRIXIE_CARD = [
  'configdrive-iso9660/dhcp:works',
  'configdrive-iso9660/static:works',
  'configdrive-vfat/dhcp:works',
  'configdrive-vfat/static:works',
  'metadata-ec2-imdsv2-optional/dhcp:works',
  'metadata-ec2-imdsv2-optional/static:n/a',
  'metadata-openstack/dhcp:works',
  'metadata-openstack/neutron-dhcp-agent:works',
  'metadata-openstack/neutron-l3-agent:works',
  'metadata-openstack/static:works',
];

type Certified = Awaited<ReturnType<typeof certify>>;

async function certify(file: string, name: string, ...flags: string[]) {
  const reportDir = join(REPORTS, name);
  await rm(reportDir, { recursive: true, force: true });
  const r = await execa('node', [CLI, 'certify', file, '--report-dir', reportDir, '--jobs', '2', ...flags], { reject: false, all: true, timeout: 1_700_000, env: { ...process.env, CI: 'true' } });
  const card = JSON.parse(await readFile(join(reportDir, 'card.json'), 'utf8').catch(() => 'null')) as Card | null;
  return { r, card, reportDir };
}

describe(`certify debian-13-netplan (${full ? 'the whole card' : TRIXIE_CI_CELLS.join(', ')})`, () => {
  let r: Certified['r'];
  let card: Certified['card'];
  let reportDir: string;
  beforeAll(async () => {
    ({ r, card, reportDir } = await certify(trixie, 'debian-13-netplan', ...(full ? [] : TRIXIE_CI_CELLS.flatMap((c) => ['--filter', `*/${c}`]))));
  });

  it('prints the card and exits 0: what ran works, EC2 + static is n/a', () => {
    expect(card, r.all).not.toBeNull();
    const bad = card!.entries.filter((e) => e.verdict !== 'works' && e.verdict !== 'n/a' && (full || e.verdict !== 'not run here'));
    expect(bad, JSON.stringify(bad, null, 2)).toEqual([]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain(`# cloudprobe certify: ${trixie.split('/').pop()}`);
    // Filtered or not, the card has every row and column; what was left out says so.
    const expected = full ? TRIXIE_CARD : TRIXIE_CARD.map((e) => {
      const [combo, verdict] = e.split(':') as [string, string];
      return verdict === 'n/a' || TRIXIE_CI_CELLS.includes(combo) ? e : `${combo}:not run here`;
    });
    expect(card!.entries.map((e) => `${e.datasource}/${e.network}:${e.verdict}`).sort()).toEqual(expected);
    if (full) expect(r.stdout).toContain('| configdrive-iso9660 | ✅ works | ✅ works | — | — |');
  });

  it('found out what the image is from inside it: default user, cloud-init 25.1, netplan, eth0, trixie', () => {
    expect(card!.detected.defaultUser?.name).toBe('ubuntu');
    expect(card!.detected.defaultUser?.from).toMatch(/system config|cloud-init query|Adding user/);
    expect(card!.detected.cloudInitVersion?.version).toMatch(/^25\.1\./);
    expect(card!.detected.renderer).toMatchObject({ name: 'netplan', harness: 'netplan' });
    expect(card!.detected.firstNic).toBe('eth0');
    expect(card!.detected.os).toContain('trixie');
    expect(card!.image.format).toBe('qcow2');
  });

  it('wrote the card three ways beside the full reports, and never touched the image', async () => {
    for (const f of ['card.md', 'card.html', 'card.json', 'matrix.html', 'results.json', 'discovery/results.json']) {
      expect((await readFile(join(reportDir, f), 'utf8')).length, f).toBeGreaterThan(0);
    }
    const md = await readFile(join(reportDir, 'card.md'), 'utf8');
    expect(r.stdout).toContain(md.trim());
    // The image file is the same as the cache's verification record says (overlays only).
    const img = await ensureImage('debian-13-netplan');
    expect(img.path).toBe(trixie);
  });
});

describe('certify debian-12-eni --user ubuntu --filter vfat (no discovery boot)', () => {
  let r: Certified['r'];
  let card: Certified['card'];
  let reportDir: string;
  beforeAll(async () => {
    ({ r, card, reportDir } = await certify(bookworm, 'debian-12-eni', '--user', 'ubuntu', '--filter', '*/configdrive-vfat/*'));
  });

  it('boots only the vfat combinations, learns the rest from the first login, shows the others as not run', async () => {
    expect(r.exitCode, r.all).toBe(0);
    const run = card!.entries.filter((e) => e.verdict !== 'not run here' && e.verdict !== 'n/a');
    expect(run.map((e) => `${e.datasource}/${e.network}:${e.verdict}`).sort()).toEqual(['configdrive-vfat/dhcp:works', 'configdrive-vfat/static:works']);
    expect(card!.entries.find((e) => e.datasource === 'configdrive-iso9660')).toMatchObject({ verdict: 'not run here', why: ['left out by --filter'] });
    expect(card!.detected.defaultUser).toEqual({ name: 'ubuntu', from: '--user' });
    expect(card!.detected.cloudInitVersion?.version).toMatch(/^22\.4/);
    expect(card!.detected.renderer).toMatchObject({ name: 'eni', harness: 'eni' });
    await expect(readFile(join(reportDir, 'discovery', 'results.json'))).rejects.toThrow();
  });
});
