import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfigDrive, VFAT_SIZE_BYTES } from '../../harness/datasource/configdrive.ts';
import type { Instance } from '../../harness/model/instance.ts';
import { configDriveFiles } from '../../harness/datasource/nova-metadata.ts';
import { fullInstance, seededRandom } from '../helpers/instances.ts';

// Every drive is read back with independent real tools (isoinfo/xorriso, mtools, blkid) and
// compared byte for byte with the tree nova's layout calls for.

const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: '1' };
let work: string;
let privateTmp: string;
let instance: Instance;
let expected: Map<string, Buffer>;
const originalTmp = process.env.TMPDIR;

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)));
  }
  return out.sort();
}

function dirsOf(paths: Iterable<string>): string[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].sort();
}

async function expectTreeMatches(dir: string): Promise<void> {
  expect(await listFiles(dir)).toEqual([...expected.keys()].sort());
  for (const [rel, bytes] of expected) {
    expect((await readFile(join(dir, rel))).equals(bytes), `${rel} differs`).toBe(true);
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cloudprobe-test-drive-'));
  // A private TMPDIR makes "no temp dir left behind" checkable without racing other tests.
  privateTmp = join(work, 'tmp');
  await execa('mkdir', ['-p', privateTmp]);
  process.env.TMPDIR = privateTmp;
  instance = await fullInstance();
  expected = configDriveFiles(instance, { random: seededRandom('drive') });
});

afterAll(async () => {
  if (originalTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = originalTmp;
  await rm(work, { recursive: true, force: true });
});

describe('iso9660 config drive', () => {
  let iso: string;
  beforeAll(async () => {
    iso = join(work, 'out', 'config.iso');
    await buildConfigDrive(instance, { format: 'iso9660', output: iso, random: seededRandom('drive') });
  });

  it('is labelled config-2 and leaves nothing behind', async () => {
    const d = await execa('isoinfo', ['-d', '-i', iso]);
    expect(d.stdout).toMatch(/^Volume id: config-2$/m);
    expect(d.stdout).toMatch(/Rock Ridge signatures version/);
    expect(d.stdout).toMatch(/Joliet with UCS level/);
    expect(await readdir(privateTmp)).toEqual([]);
    expect(await readdir(join(work, 'out'))).toEqual(['config.iso']);
  });

  it('has nova names under Rock Ridge and Joliet', async () => {
    const want = [...dirsOf(expected.keys()), ...expected.keys()].map((p) => `/${p}`).sort();
    const rr = await execa('isoinfo', ['-R', '-f', '-i', iso]);
    expect(rr.stdout.split('\n').filter(Boolean).sort()).toEqual(want);
    const joliet = await execa('isoinfo', ['-J', '-f', '-i', iso]);
    expect(joliet.stdout.split('\n').filter(Boolean).sort()).toEqual(want);
  });

  it('holds every file byte for byte (xorriso extraction and isoinfo reads)', async () => {
    const dir = join(work, 'iso-extract');
    await execa('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', dir]);
    await execa('chmod', ['-R', 'u+w', dir]);
    await expectTreeMatches(dir);
    // stripFinalNewline off: execa would drop a final "\n" even from binary output, and this compares bytes.
    const md = await execa('isoinfo', ['-R', '-i', iso, '-x', '/openstack/latest/meta_data.json'], { encoding: 'buffer', stripFinalNewline: false });
    expect(Buffer.from(md.stdout).equals(expected.get('openstack/latest/meta_data.json') as Buffer)).toBe(true);
  });
});

describe('vfat config drive', () => {
  let img: string;
  beforeAll(async () => {
    img = join(work, 'out-vfat', 'config.img');
    await buildConfigDrive(instance, { format: 'vfat', output: img, random: seededRandom('drive') });
  });

  it('is a 64 MiB FAT filesystem labelled config-2 in the root directory too', async () => {
    expect((await stat(img)).size).toBe(VFAT_SIZE_BYTES);
    const dir = await execa('mdir', ['-i', img, '::/'], { env: MTOOLS_ENV });
    expect(dir.stdout).toMatch(/Volume in drive : is config-2/);
    const blkid = await execa('blkid', ['-p', '-o', 'export', img]);
    expect(blkid.stdout).toMatch(/^TYPE=vfat$/m);
    // blkid's LABEL comes from the root-directory volume entry (a boot-sector-only label would
    // show up as LABEL_FATBOOT alone, which cloud-init's blkid lookups do not match).
    expect(blkid.stdout).toMatch(/^LABEL=config-2$/m);
    expect(await readdir(privateTmp)).toEqual([]);
    expect(await readdir(join(work, 'out-vfat'))).toEqual(['config.img']);
  });

  it('has nova long names and every file byte for byte', async () => {
    const listing = await execa('mdir', ['-/', '-b', '-i', img, '::/'], { env: MTOOLS_ENV });
    const names = listing.stdout.split('\n').filter(Boolean).map((l) => l.replace(/^::\//, '').replace(/\/$/, '')).sort();
    expect(names).toEqual([...dirsOf(expected.keys()), ...expected.keys()].sort());
    const typed = await execa('mtype', ['-i', img, '::/openstack/latest/network_data.json'], { env: MTOOLS_ENV });
    expect(typed.stdout).toBe(expected.get('openstack/latest/network_data.json')?.toString());
    const dir = join(work, 'vfat-extract');
    await execa('mkdir', ['-p', dir]);
    await execa('mcopy', ['-s', '-n', '-i', img, '::/openstack', '::/ec2', dir], { env: MTOOLS_ENV });
    await expectTreeMatches(dir);
  });
});

describe('failed builds', () => {
  it('leave no image, no partial file and no temp dir', async () => {
    const huge = { ...instance, files: [{ path: '/big', content: 'x'.repeat(VFAT_SIZE_BYTES + 1024) }] };
    const outDir = join(work, 'out-fail');
    await expect(buildConfigDrive(huge, { format: 'vfat', output: join(outDir, 'config.img') })).rejects.toThrow(/mcopy failed/);
    expect(await readdir(outDir)).toEqual([]);
    expect(await readdir(privateTmp)).toEqual([]);
  });
});
