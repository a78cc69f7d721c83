import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeImageFile } from '../../harness/certify/image-file.ts';

/**
 * `cloudprobe certify` refuses what is not a disk image before booting anything (real qemu-img
 * on real files); the boots themselves are in test/e2e/certify.test.ts.
 */

const CLI = resolve('bin/cloudprobe.js');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-certify-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => execa('node', [CLI, 'certify', ...args], { reject: false, timeout: 60_000, cwd: dir });

describe('cloudprobe certify, before any boot', () => {
  it('refuses a missing file, a directory, a text file and a vmdk in one line each, and writes nothing', async () => {
    await writeFile(join(dir, 'notes.txt'), 'not an image\n');
    await mkdir(join(dir, 'a-dir'));
    await execa('qemu-img', ['create', '-q', '-f', 'vmdk', join(dir, 'disk.vmdk'), '16M']);
    for (const [file, why] of [
      ['missing.qcow2', 'no such file'],
      ['a-dir', 'not a regular file'],
      ['notes.txt', '13 bytes is no disk image (qemu-img sees only raw bytes)'],
      ['disk.vmdk', 'a vmdk image; certify boots qcow2 or raw disk images'],
    ] as const) {
      const r = await cli([file]);
      expect(r.exitCode, `${file}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim()).toBe(`cloudprobe: certify ${file}: ${why}`);
    }
    const mem = await cli(['notes.txt', '--memory', 'lots']);
    expect(mem.exitCode).toBe(2);
    expect(mem.stderr.trim()).toBe('cloudprobe: --memory lots: expected MiB from 128 to 65536');
    expect((await readdir(dir)).sort()).toEqual(['a-dir', 'disk.vmdk', 'notes.txt']);
  });

  it('describes a qcow2 on a backing file: format, sizes, digest and the chain', async () => {
    const base = join(dir, 'base.qcow2');
    const top = join(dir, 'Top Image.qcow2');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', base, '64M']);
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', top]);
    const d = await describeImageFile(top);
    expect(d).toMatchObject({ path: top, name: 'certify-top-image', format: 'qcow2', virtualSizeBytes: 64 * 1024 * 1024, backingFile: base });
    expect(d.sha256).toBe(createHash('sha256').update(await readFile(top)).digest('hex'));
  });
});
