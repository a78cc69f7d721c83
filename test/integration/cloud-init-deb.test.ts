import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * A cloud-init .deb of the user's own, refused before anything is built or booted when it cannot
 * work: real dpkg-deb on real (tiny) packages, through the CLI. The derived build itself and its
 * boot are the e2e tier's (test/e2e/cloud-init-deb.test.ts).
 */

const CLI = resolve('bin/cloudprobe.js');
let dir: string;
let cache: string;
const debs = { other: '', tiny: '' };

/** A minimal package: a control file, no contents. */
async function makeDeb(name: string, version: string): Promise<string> {
  const tree = join(dir, `tree-${name}`);
  await mkdir(join(tree, 'DEBIAN'), { recursive: true });
  await writeFile(join(tree, 'DEBIAN/control'), `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: cloudprobe tests <t@example.invalid>\nDescription: test package\n`);
  const file = join(dir, `${name}_${version}_all.deb`);
  await execa('dpkg-deb', ['--root-owner-group', '-b', tree, file]);
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-cideb-cli-'));
  cache = join(dir, 'cache');
  await mkdir(cache);
  debs.other = await makeDeb('cloudprobe-not-cloud-init', '1.0');
  debs.tiny = await makeDeb('cloud-init', '0.0+cloudprobe.tiny');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => execa('node', [CLI, ...args], { env: { ...process.env, CLOUDPROBE_IMAGE_CACHE: cache, CI: 'true' }, reject: false, timeout: 60_000 });

async function caseWith(deb: string, images = '[debian-12-eni]'): Promise<string> {
  const f = join(dir, `case-${Math.random().toString(36).slice(2, 8)}.yaml`);
  await writeFile(f, `images: ${images}\ndatasources: [configdrive-iso9660]\ncloud_init_deb: ${deb}\ninstance: { name: a }\nexpect: {}\n`);
  return f;
}

describe("a case's cloud_init_deb", () => {
  it('is refused with file:line:col when missing, not a package, or another package', async () => {
    for (const [deb, why] of [
      ['no-such.deb', `${join(dir, 'no-such.deb')}: no such file`],
      [CLI, `${CLI} is not a Debian package (dpkg-deb: `],
      [debs.other, `${debs.other} is the package cloudprobe-not-cloud-init, not cloud-init`],
    ] as const) {
      const f = await caseWith(deb);
      const r = await cli(['run', f, '--list']);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toContain(`cloudprobe: ${f}:3:17: cloud_init_deb: ${why}`);
      expect(r.stderr.trim().split('\n'), 'one line, no stack').toHaveLength(1);
    }
  });

  it('is refused for a downloaded image and for an image without cloud-init', async () => {
    const f = await caseWith(debs.tiny, '[ubuntu-24.04, fixture-busybox]');
    const r = await cli(['run', f, '--list']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${f}:3:17: cloud_init_deb: image ubuntu-24.04 is downloaded, not built from a recipe`);
    expect(r.stderr).toContain(`${f}:3:17: cloud_init_deb: image fixture-busybox has no cloud-init to replace`);
  });

  it('a relative path is read beside the case file; its cells are planned even where the image itself is not built', async () => {
    const f = await caseWith('cloud-init_0.0+cloudprobe.tiny_all.deb');
    // An empty cache: debian-12-eni is "not built here", but the derived build is made when the cell runs.
    const r = await cli(['run', f, '--list']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^run {3}case-\w+\/debian-12-eni\/configdrive-iso9660\/dhcp$/m);
  });
});

describe('images build --cloud-init-deb', () => {
  it('refuses a bad package and a builder without cloud-init in one line, and builds nothing', async () => {
    const other = await cli(['images', 'build', 'debian-12-eni', '--cloud-init-deb', debs.other]);
    expect(other.exitCode).toBe(2);
    expect(other.stderr.trim()).toBe(`cloudprobe: --cloud-init-deb: ${debs.other} is the package cloudprobe-not-cloud-init, not cloud-init`);
    const fixture = await cli(['images', 'build', 'fixture-busybox', '--cloud-init-deb', debs.tiny]);
    expect(fixture.exitCode).toBe(2);
    expect(fixture.stderr.trim()).toBe('cloudprobe: fixture-busybox is built by the fixture-busybox builder, which has no cloud-init: a cloud-init .deb applies only to images built from a Debian recipe');
    expect(await readdir(cache)).toEqual([]);
  });
});
