import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG_DIR } from '../../harness/images/manifest.ts';
import { findPackageRoot, packageRoot, packageVersion } from '../../harness/util/package-root.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-root-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('package root', () => {
  it('is the checkout from the sources, and holds images/ and the version', () => {
    expect(packageRoot()).toBe(resolve('.'));
    expect(DEFAULT_CATALOG_DIR).toBe(resolve('images'));
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('walks past other packages and plain directories to the one named cloudprobe', async () => {
    // <dir>/cloudprobe/package.json (ours) above node_modules/other/package.json, as when installed with deps nested.
    const ours = join(dir, 'a');
    const deep = join(ours, 'node_modules', 'other', 'dist', 'harness', 'util');
    await mkdir(deep, { recursive: true });
    await writeFile(join(ours, 'package.json'), JSON.stringify({ name: 'cloudprobe' }));
    await writeFile(join(ours, 'node_modules', 'other', 'package.json'), JSON.stringify({ name: 'other' }));
    expect(findPackageRoot(deep)).toBe(ours);
  });

  it('fails in one line when there is none', async () => {
    const lone = join(dir, 'b', 'c');
    await mkdir(lone, { recursive: true });
    expect(() => findPackageRoot(lone, 'no-such-package-xyz')).toThrow(/^no package\.json named no-such-package-xyz in .*b\/c or above$/);
  });
});
