import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { execa } from 'execa';
import type { CloudInitPackage } from '../model/cell.ts';
import { UserError } from '../util/errors.ts';
import { needTool } from './build-types.ts';
import { sha256File } from './verify.ts';

/**
 * A cloud-init package of the user's own (what cloud-init's integration tests take as
 * CLOUD_INIT_SOURCE), installed over the archive's cloud-init in a derived build of an image.
 * The build is keyed by the package's SHA-256, so a rebuilt .deb is a new image and the same one
 * is built once.
 */
export type CloudInitDeb = CloudInitPackage;

/**
 * Reads and checks a .deb: a regular file, a Debian package, and the package `cloud-init`.
 * `where` names the input in errors (`--cloud-init-deb FILE`, or `case.yaml:3:17: cloud_init_deb`).
 */
export async function inspectCloudInitDeb(file: string, where: string): Promise<CloudInitDeb> {
  const path = resolve(file);
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new UserError(`${where}: ${path}: no such file`);
  if (!st.isFile()) throw new UserError(`${where}: ${path}: not a regular file`);
  const dpkgDeb = await needTool('dpkg-deb', `${where}: reading ${path}`);
  const r = await execa(dpkgDeb, ['--field', path, 'Package', 'Version'], { reject: false, timeout: 30_000 });
  if (r.exitCode !== 0) {
    const why = (r.stderr || r.stdout || `exit ${r.exitCode}`).split('\n')[0]!.replace(/^dpkg-deb(: error)?: /, '');
    throw new UserError(`${where}: ${path} is not a Debian package (dpkg-deb: ${why})`);
  }
  const field = (name: string) => new RegExp(`^${name}: (.+)$`, 'm').exec(r.stdout)?.[1]?.trim();
  const pkg = field('Package');
  const version = field('Version');
  if (pkg !== 'cloud-init') throw new UserError(`${where}: ${path} is the package ${pkg ?? '(none)'}, not cloud-init`);
  if (!version) throw new UserError(`${where}: ${path} has no Version field`);
  return { file: path, sha256: await sha256File(path), version };
}

/** Directory of a derived build under an image's cache dir: one per package digest. */
export function derivedDirName(deb: CloudInitDeb): string {
  return `cloud-init-${deb.sha256.slice(0, 16)}`;
}
