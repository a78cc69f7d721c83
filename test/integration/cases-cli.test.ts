import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = resolve('bin/cloudprobe.js');
let dir: string;
let env: NodeJS.ProcessEnv;
const marker = () => join(dir, 'qemu-was-started');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-cli-'));
  // A qemu that only records that someone started it: a refused case must boot nothing.
  await mkdir(join(dir, 'bin'));
  for (const name of ['qemu-system-x86_64', 'qemu-img']) {
    await writeFile(join(dir, 'bin', name), `#!/bin/sh\ntouch '${marker()}'\nexit 1\n`);
    await chmod(join(dir, 'bin', name), 0o755);
  }
  env = { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, CI: 'true' };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => execa('node', [CLI, ...args], { env, reject: false, timeout: 60_000 });

describe('cloudprobe run', () => {
  it('refuses a broken case file with file:line:col and the field, and boots nothing', async () => {
    const cases = join(dir, 'cases');
    await mkdir(cases, { recursive: true });
    await writeFile(join(cases, 'good.yaml'), 'images: [debian-12-eni]\ndatasources: [configdrive-iso9660]\ninstance: { name: a }\nexpect: {}\n');
    const broken = join(cases, 'broken.yaml');
    await writeFile(broken, 'images: [debian-12-eni]\ndatasources:\n  - configdrive-iso9660\n  - metadata-nova\ninstance: { name: a }\nexpect: { timezone: 5 }\n');
    const reports = join(dir, 'reports');
    const r = await cli(['run', cases, '--report-dir', reports]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${broken}:4:5: datasources[1]: `);
    expect(r.stderr).toContain(`${broken}:6:21: expect.timezone: `);
    expect(r.stderr).not.toMatch(/\n\s+at /); // a user error, not a stack trace
    expect(r.stdout).toBe('');
    expect(existsSync(reports)).toBe(false);
    expect(existsSync(marker())).toBe(false);
  });

  it('refuses a FIFO given as a case file or a user_data_file at once, without hanging', async () => {
    const fifo = join(dir, 'pipe.yaml');
    await execa('mkfifo', [fifo]);
    const r = await cli(['run', '--list', fifo]);
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toBe(`cloudprobe: ${fifo}: cannot read: not a regular file (a FIFO)`);
    const withFifo = join(dir, 'fifo-user-data.yaml');
    await writeFile(withFifo, `name: a\nuser_data_file: ${fifo}\n`);
    const u = await cli(['drive', 'build', '--instance', withFifo, '--format', 'iso9660', '--output', join(dir, 'never.iso')]);
    expect(u.timedOut).toBe(false);
    expect(u.exitCode).toBe(2);
    expect(u.stderr).toContain(`user_data_file ${fifo}: not a regular file (a FIFO)`);
    expect(existsSync(join(dir, 'never.iso'))).toBe(false);
    expect(u.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses an unknown image and a bad --shard before planning anything', async () => {
    const f = join(dir, 'typo.yaml');
    await writeFile(f, 'images: [debian-12-enii]\ndatasources: [configdrive-iso9660]\ninstance: { name: a }\nexpect: {}\n');
    const r = await cli(['run', f, '--report-dir', join(dir, 'r2')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${f}:1:10: images[0]: unknown image "debian-12-enii"`);
    const s = await cli(['run', 'cases', '--shard', '3/2', '--list']);
    expect(s.exitCode).toBe(2);
    expect(s.stderr).toMatch(/--shard 3\/2: expected i\/n/);
    for (const bad of ['1.5', 'x', '6']) {
      const t = await cli(['run', 'cases', '--retry-errors', bad, '--report-dir', join(dir, 'r3')]);
      expect(t.exitCode, t.stderr).toBe(2);
      expect(t.stderr.trim()).toBe(`cloudprobe: --retry-errors ${bad}: expected a whole number from 0 to 5`);
    }
    expect(existsSync(marker())).toBe(false);
  });

  it('--shard 1/2 and 2/2 together list every cell of the shipped matrix exactly once', async () => {
    const lines = async (args: string[]) => {
      const r = await cli(['run', 'cases', '--list', ...args]);
      expect(r.exitCode, r.stderr).toBe(0);
      return r.stdout.split('\n').filter((l) => /^(run|skip) {2}/.test(l)).map((l) => l.slice(6).split(':')[0]!);
    };
    const all = await lines([]);
    const one = await lines(['--shard', '1/2']);
    const two = await lines(['--shard', '2/2']);
    expect(all.length).toBeGreaterThanOrEqual(7);
    expect(one.length).toBeGreaterThan(0);
    expect(two.length).toBeGreaterThan(0);
    expect([...one, ...two].sort()).toEqual([...all].sort());
    expect(new Set([...one, ...two]).size).toBe(all.length);
    // The default (offline-image) matrix: the seed article (on three cloud-init releases, and verbatim), multi-NIC, EC2 and neutron cases on the Debian images.
    const offline = all.filter((id) => /\/debian-(12-eni|12-netplan|13-netplan|sid-netplan)\//.test(id));
    expect(offline.sort()).toEqual([
      'ec2/debian-12-eni/metadata-ec2-imdsv2-optional/dhcp',
      'ec2/debian-12-eni/metadata-ec2-imdsv2-optional/multi-nic-dhcp',
      'multi-nic/debian-12-eni/configdrive-iso9660/multi-nic-dhcp',
      'multi-nic/debian-12-eni/metadata-openstack/multi-nic-dhcp',
      'neutron/debian-12-eni/configdrive-iso9660/no-dhcp-configdrive',
      'neutron/debian-12-eni/configdrive-iso9660/two-networks',
      'neutron/debian-12-eni/metadata-openstack/both-agents',
      'neutron/debian-12-eni/metadata-openstack/dhcp-agent',
      'neutron/debian-12-eni/metadata-openstack/l3-agent',
      'neutron/debian-12-eni/metadata-openstack/l3-agent-no-router',
      'neutron/debian-12-eni/metadata-openstack/no-dhcp-metadata',
      'neutron/debian-12-eni/metadata-openstack/two-networks',
      'neutron/debian-13-netplan/metadata-ec2-imdsv2-optional/two-networks-ec2',
      'seed-article/debian-12-eni/configdrive-iso9660/static',
      'seed-article/debian-12-eni/configdrive-vfat/dhcp',
      'seed-article/debian-12-eni/metadata-openstack/dhcp',
      'seed-article/debian-12-netplan/configdrive-iso9660/static',
      'seed-article/debian-12-netplan/configdrive-vfat/dhcp',
      'seed-article/debian-13-netplan/configdrive-iso9660/static',
      'seed-article/debian-13-netplan/configdrive-vfat/dhcp',
      'seed-article/debian-13-netplan/metadata-openstack/dhcp',
      'seed-article/debian-sid-netplan/configdrive-iso9660/static',
      'seed-article/debian-sid-netplan/configdrive-vfat/dhcp',
      'seed-article/debian-sid-netplan/metadata-openstack/dhcp',
      'seed-verbatim/debian-12-eni/configdrive-iso9660/dhcp',
      'seed-verbatim/debian-13-netplan/configdrive-iso9660/dhcp',
      'seed-verbatim/debian-sid-netplan/configdrive-iso9660/dhcp',
    ]);
    expect(existsSync(marker())).toBe(false);
  });

  it('`schema case` is a JSON Schema that a real validator accepts every shipped case with, and rejects a broken one', async () => {
    const schema = await cli(['schema', 'case']);
    expect(schema.exitCode).toBe(0);
    const schemaFile = join(dir, 'case.schema.json');
    await writeFile(schemaFile, schema.stdout);
    const files = (await readdir('cases')).filter((f) => f.endsWith('.yaml')).map((f) => resolve('cases', f));
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'images: [x]\ndatasources: [floppy]\ninstance: { name: a }\nexpect: {}\n');
    const py = `
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
for f in sys.argv[2:]:
    errs = list(v.iter_errors(yaml.safe_load(open(f))))
    print(f, len(errs))
`;
    const r = await execa('python3', ['-c', py, schemaFile, ...files, bad], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const counts = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(' ') as [string, string]));
    for (const f of files) expect(counts[f], f).toBe('0');
    expect(Number(counts[bad])).toBeGreaterThan(0);
  });
});
