import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory holding cloudprobe's own package.json, found by walking up from `start`. Files
 * that ship beside the code (package.json, images/) are read from here, because counting `../`
 * from a module gives different answers for the sources (harness/…, run by tsx in tests) and
 * the compiled package (dist/harness/…).
 */
export function findPackageRoot(start: string, name = 'cloudprobe'): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (packageName(join(dir, 'package.json')) === name) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json named ${name} in ${start} or above`);
  }
}

let root: string | undefined;
/** cloudprobe's root: the checkout, or where the package is installed. */
export function packageRoot(): string {
  return (root ??= findPackageRoot(dirname(fileURLToPath(import.meta.url))));
}

/** The `version` in cloudprobe's package.json (`--version`, results.json). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The name in a package.json, or undefined when there is none to read (a read, not access(2), which ignores capabilities). */
function packageName(file: string): unknown {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name;
  } catch {
    return undefined;
  }
}
