import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

/**
 * A cloud-init package "of the user's own", made as a developer would: the archive's cloud-init
 * (this host's release, so its dependencies are the image's), unpacked, changed and packed again
 * with a version of its own. The change is cloud-init's own version string, so the guest's console
 * ("Cloud-init v. 22.4.2+cloudprobe.test running …") proves which cloud-init really ran.
 */
export const PATCHED_SUFFIX = '+cloudprobe.test';

export async function makePatchedCloudInitDeb(dir: string): Promise<{ file: string; debVersion: string; cloudInitVersion: string }> {
  // `apt-get download` writes into the working directory; as root it warns that _apt cannot write there.
  const download = () => execa('apt-get', ['download', '-q', 'cloud-init'], { cwd: dir, reject: false, all: true });
  let got = await download();
  // A machine whose package lists were never fetched (a fresh container) knows no cloud-init yet.
  if (got.exitCode !== 0) {
    await execa('apt-get', ['update', '-qq']);
    got = await download();
  }
  if (got.exitCode !== 0) throw new Error(`test fixture: apt-get download cloud-init failed: ${got.all}`);
  const { stdout } = await execa('sh', ['-c', 'ls cloud-init_*.deb'], { cwd: dir });
  const original = join(dir, stdout.trim().split('\n')[0]!);
  const tree = join(dir, 'tree');
  await execa('dpkg-deb', ['-R', original, tree]);
  const versionPy = join(tree, 'usr/lib/python3/dist-packages/cloudinit/version.py');
  const py = await readFile(versionPy, 'utf8');
  const m = /^__VERSION__ = "([^"]+)"$/m.exec(py);
  if (!m) throw new Error(`test fixture: no __VERSION__ in ${versionPy}`);
  const cloudInitVersion = `${m[1]}${PATCHED_SUFFIX}`;
  await writeFile(versionPy, py.replace(m[0], `__VERSION__ = "${cloudInitVersion}"`));
  const controlFile = join(tree, 'DEBIAN/control');
  const control = await readFile(controlFile, 'utf8');
  const v = /^Version: (.+)$/m.exec(control)![1]!;
  const debVersion = `${v}${PATCHED_SUFFIX}1`;
  await writeFile(controlFile, control.replace(`Version: ${v}`, `Version: ${debVersion}`));
  const file = join(dir, `cloud-init_${debVersion}_all.deb`);
  await execa('dpkg-deb', ['--root-owner-group', '-b', tree, file]);
  return { file, debVersion, cloudInitVersion };
}
