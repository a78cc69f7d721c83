import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FULL_INSTANCE_YAML } from '../helpers/instances.ts';

const cli = (args: string[]) => execa('node', ['bin/cloudprobe.js', ...args], { reject: false, timeout: 60_000 });
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-test-dscli-'));
  await writeFile(join(dir, 'web.yaml'), FULL_INSTANCE_YAML);
  await writeFile(join(dir, 'ud.yaml'), 'name: ud\nuser_data_file: seed/user-data\n');
  await writeFile(join(dir, 'bad.yaml'), 'name: bad\nnics:\n  - mac: "52:54:00:00:00:01"\n  - mac: not-a-mac\n    mode: static\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('cloudprobe drive build', () => {
  it.each(['iso9660', 'vfat'])('builds a %s drive labelled config-2', async (format) => {
    const out = join(dir, `out-${format}`, 'drive.img');
    await mkdir(join(dir, `out-${format}`));
    const r = await cli(['drive', 'build', '--instance', join(dir, 'web.yaml'), '--format', format, '--output', out]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ uuid: '0f3c1c2e-5b7a-4d5e-9a2b-1c2d3e4f5a6b', format, output: out });
    const blkid = await execa('blkid', ['-p', '-o', 'export', out]);
    expect(blkid.stdout).toMatch(/^LABEL=config-2$/m);
    expect(await readdir(join(dir, `out-${format}`))).toEqual(['drive.img']);
  });

  it('names file, line and field of a bad instance file', async () => {
    const r = await cli(['drive', 'build', '--instance', join(dir, 'bad.yaml'), '--format', 'vfat', '--output', join(dir, 'never.img')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${join(dir, 'bad.yaml')}:4:10: nics[1].mac: must be a MAC address`);
    expect(r.stderr).toContain('nics[1].address: a static NIC needs an address');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('names a missing user_data_file', async () => {
    const r = await cli(['drive', 'build', '--instance', join(dir, 'ud.yaml'), '--format', 'vfat', '--output', join(dir, 'never.img')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(join(dir, 'seed/user-data'));
  });

  it('refuses a bad --output in one line before building anything: missing directory, a directory, procfs', async () => {
    const cases: [string, string][] = [
      [join(dir, 'no-such-dir', 'x.img'), `--output ${join(dir, 'no-such-dir', 'x.img')}: the directory ${join(dir, 'no-such-dir')} does not exist`],
      [dir, `--output ${dir}: is a directory; name the file to write`],
      ['/proc/x.img', '--output /proc/x.img: /proc is on procfs, which holds no files of ours'],
    ];
    const before = await readdir(dir);
    for (const [out, message] of cases) {
      const r = await cli(['drive', 'build', '--instance', join(dir, 'web.yaml'), '--format', 'iso9660', '--output', out]);
      expect(r.exitCode, out).toBe(2);
      expect(r.stderr.trim()).toBe(`cloudprobe: ${message}`);
    }
    // Nothing half-written beside the outputs.
    expect(await readdir(dir)).toEqual(before);
  });

  it('refuses an unknown format', async () => {
    const r = await cli(['drive', 'build', '--instance', join(dir, 'web.yaml'), '--format', 'ext4', '--output', join(dir, 'x.img')]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/Allowed choices are iso9660, vfat/);
  });
});

describe('cloudprobe schema', () => {
  it('prints the instance JSON Schema', async () => {
    const r = await cli(['schema', 'instance']);
    expect(r.exitCode).toBe(0);
    const s = JSON.parse(r.stdout) as { type: string; properties: Record<string, { type?: string }>; required?: string[]; additionalProperties?: boolean };
    expect(s.type).toBe('object');
    expect(Object.keys(s.properties)).toEqual(expect.arrayContaining(['uuid', 'name', 'hostname', 'public_keys', 'user_data', 'vendor_data2', 'files', 'nics']));
    expect(s.required).toEqual(['name']);
    expect(s.additionalProperties).toBe(false);
    expect(s.properties.nics?.type).toBe('array');
  });

  it('names the known schemas for an unknown one', async () => {
    const r = await cli(['schema', 'nope']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown schema "nope"; known: .*instance/);
  });
});
