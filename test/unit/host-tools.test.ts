import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requireTool } from '../../harness/host/tools.ts';

// requireTool runs on every cell boot (qemu, qemu-img, socat, setpriv): it must find the command
// without running it, and look it up once per PATH.
describe('requireTool', () => {
  let dir: string;
  let savedPath: string | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloudprobe-tools-'));
    savedPath = process.env.PATH;
  });
  afterEach(async () => {
    process.env.PATH = savedPath;
    await rm(dir, { recursive: true, force: true });
  });

  it('finds the command on PATH without running it, and answers again from memory', async () => {
    const ran = join(dir, 'ran');
    await writeFile(join(dir, 'socat'), `#!/bin/sh\necho "$@" >> ${ran}\n`);
    await chmod(join(dir, 'socat'), 0o755);
    process.env.PATH = `${dir}:${savedPath ?? ''}`;
    expect(await requireTool('socat')).toBe(join(dir, 'socat'));
    // Removing the file shows the second answer came from memory, not a new lookup.
    await rm(join(dir, 'socat'));
    expect(await requireTool('socat')).toBe(join(dir, 'socat'));
    await expect(readFile(ran, 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('names the Debian package when no alternative is found, and looks again next time', async () => {
    process.env.PATH = dir;
    await expect(requireTool('dpkg-deb')).rejects.toThrow('dpkg-deb not found (needed for: reads a cloud-init .deb');
    await writeFile(join(dir, 'dpkg-deb'), '#!/bin/sh\n');
    await chmod(join(dir, 'dpkg-deb'), 0o755);
    // /usr/sbin and /sbin are always searched; dpkg-deb lives in /usr/bin, so only ours is found.
    expect(await requireTool('dpkg-deb')).toBe(join(dir, 'dpkg-deb'));
  });

  it('refuses a tool it does not know', async () => {
    await expect(requireTool('no-such-tool')).rejects.toThrow('unknown tool no-such-tool');
  });
});
