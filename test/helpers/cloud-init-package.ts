import { access, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { cacheRoot } from '../../harness/util/paths.ts';

/**
 * Debian's cloud-init package, unpacked once into `<cache>/cloud-init-deb/current` (apt-get
 * download + dpkg-deb -x, no install), so tests can run cloud-init's own readers as a real client.
 * The cache entry appears atomically (unpacked in a temp dir, then renamed).
 */
export async function cloudInitPythonPath(): Promise<string> {
  const base = join(cacheRoot(), 'cloud-init-deb');
  const current = join(base, 'current');
  const sitePackages = join(current, 'usr/lib/python3/dist-packages');
  if (await exists(join(current, '.complete'))) return sitePackages;
  await mkdir(base, { recursive: true });
  const tmp = await mkdtemp(join(base, 'tmp-'));
  try {
    await download(tmp);
    const deb = (await readdir(tmp)).find((f) => f.startsWith('cloud-init_') && f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download cloud-init produced no .deb');
    await execa('dpkg-deb', ['-x', join(tmp, deb), tmp]);
    await writeFile(join(tmp, '.complete'), `${deb}\n`);
    await rm(join(tmp, deb));
    try {
      await rename(tmp, current);
    } catch (err) {
      // Another test file won the race: use its copy.
      if (!(await exists(join(current, '.complete')))) throw err;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return sitePackages;
}

async function download(dir: string): Promise<void> {
  const first = await execa('apt-get', ['download', 'cloud-init'], { cwd: dir, reject: false, all: true });
  if (first.exitCode === 0) return;
  // A fresh machine may have no package lists yet.
  if (process.getuid?.() === 0) {
    await execa('apt-get', ['update', '-qq'], { reject: false });
    const again = await execa('apt-get', ['download', 'cloud-init'], { cwd: dir, reject: false, all: true });
    if (again.exitCode === 0) return;
    throw new Error(`apt-get download cloud-init failed: ${again.all}`);
  }
  throw new Error(`apt-get download cloud-init failed (try apt-get update): ${first.all}`);
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/** Debian's python3 (with the python3-yaml/jinja2/... packages), not a pyenv/venv one on PATH. */
export async function debianPython(): Promise<string> {
  return (await exists('/usr/bin/python3')) ? '/usr/bin/python3' : 'python3';
}

const SCRIPT = fileURLToPath(new URL('./cloudinit_readers.py', import.meta.url));

/** Runs test/helpers/cloudinit_readers.py and returns its JSON (bytes as {__bytes__: base64}). */
export async function runCloudInitReaders(mode: 'drive' | 'service' | 'imdsv2' | 'ec2-datasource', where: string, knownMacs: Record<string, string>): Promise<Record<string, unknown>> {
  const r = await execa(await debianPython(), [SCRIPT, mode, where, JSON.stringify(knownMacs)], {
    env: { PYTHONPATH: await cloudInitPythonPath(), PYTHONDONTWRITEBYTECODE: '1' },
    reject: false,
    timeout: 120_000,
  });
  if (r.exitCode !== 0) throw new Error(`cloud-init readers failed (exit ${r.exitCode}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** Inverse of the script's bytes encoding, for comparisons. */
export function bytesOf(v: unknown): Buffer {
  const b64 = (v as { __bytes__?: string } | null)?.__bytes__;
  if (typeof b64 !== 'string') throw new Error(`expected bytes, got ${JSON.stringify(v)}`);
  return Buffer.from(b64, 'base64');
}
