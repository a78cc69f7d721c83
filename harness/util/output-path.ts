import { constants } from 'node:fs';
import { access, mkdir, stat, statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UserError } from './errors.ts';

/**
 * Checks where a flag says to write, before anything is built: a file's directory must exist and
 * be writable, the file itself must not be a directory, and neither may live on procfs or sysfs
 * (writes there hang or fail deep inside a tool: `--output /proc/…` once spun a core forever).
 * Errors name the flag and say what is wrong, in one line.
 */

const PSEUDO_FS: Record<number, string> = { 0x9fa0: 'procfs', 0x62656572: 'sysfs', 0x64626720: 'debugfs', 0x73636673: 'securityfs', 0x27e0eb: 'cgroupfs', 0x63677270: 'cgroup2fs' };

async function refusePseudoFs(flag: string, path: string, dir: string): Promise<void> {
  const fs = await statfs(dir).catch(() => undefined);
  const kind = fs ? PSEUDO_FS[fs.type] : undefined;
  if (kind) throw new UserError(`${flag} ${path}: ${dir} is on ${kind}, which holds no files of ours`);
}

/** For a file the command will write (atomically, beside it): its directory exists and takes files. */
export async function checkOutputFile(flag: string, path: string): Promise<void> {
  const dir = dirname(resolve(path));
  const d = await stat(dir).catch(() => undefined);
  if (!d) throw new UserError(`${flag} ${path}: the directory ${dir} does not exist`);
  if (!d.isDirectory()) throw new UserError(`${flag} ${path}: ${dir} is not a directory`);
  await refusePseudoFs(flag, path, dir);
  const f = await stat(path).catch(() => undefined);
  if (f?.isDirectory()) throw new UserError(`${flag} ${path}: is a directory; name the file to write`);
  await access(dir, constants.W_OK).catch(() => {
    throw new UserError(`${flag} ${path}: ${dir} is not writable`);
  });
}

/** For a directory the command writes into: created if missing, then checked like a file's directory. */
export async function prepareOutputDir(flag: string, path: string): Promise<void> {
  const abs = resolve(path);
  // The nearest existing ancestor decides whether it may be created at all (and where it lives).
  let probe = abs;
  while (!(await stat(probe).catch(() => undefined))) probe = dirname(probe);
  await refusePseudoFs(flag, path, probe);
  await mkdir(abs, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    throw new UserError(`${flag} ${path}: cannot create it (${err.code ?? err.message})`);
  });
  const d = await stat(abs);
  if (!d.isDirectory()) throw new UserError(`${flag} ${path}: is not a directory`);
  await access(abs, constants.W_OK).catch(() => {
    throw new UserError(`${flag} ${path}: is not writable`);
  });
}
