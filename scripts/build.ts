/**
 * Builds dist/ (the compiled package: JavaScript, declarations, source maps) from harness/.
 *
 *   npm run build        (also run by `npm ci` / `npm install` as `prepare`, by `make setup`
 *                         when a source is newer, and by the integration tier's global setup)
 *
 * Always a full build into a fresh sibling directory, swapped in by rename: tsc's incremental
 * mode neither deletes the output of a removed source nor re-emits an output deleted by hand,
 * and a CLI already running from dist/ (a `make e2e` in another shell) must not see it half
 * empty. The sibling sits at dist/'s depth, so the source maps' relative paths stay right.
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/** Written last into dist/: `make` compares the sources against it. */
export const BUILD_STAMP = '.built';

export async function buildDist(root: string = resolve(fileURLToPath(new URL('..', import.meta.url)))): Promise<string> {
  const dist = join(root, 'dist');
  const staging = join(root, `dist.new-${process.pid}`);
  const movedAside: string[] = [];
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    const r = await execa(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', staging], { cwd: root, reject: false, all: true });
    if (r.exitCode !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${r.exitCode}):\n${r.all}`);
    await writeFile(join(staging, BUILD_STAMP), `${new Date().toISOString()}\n`);
    // A concurrent build may swap its dist/ in between our two renames: ours then meets a full
    // dist/ (ENOTEMPTY/EEXIST) and moves that one aside as well.
    for (let attempt = 0; ; attempt++) {
      const aside = join(root, `dist.old-${process.pid}-${attempt}`);
      await rename(dist, aside).then(
        () => movedAside.push(aside),
        (err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        },
      );
      try {
        await rename(staging, dist);
        return dist;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt >= 10) throw err;
      }
    }
  } finally {
    await Promise.all([staging, ...movedAside].map((d) => rm(d, { recursive: true, force: true })));
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await buildDist();
  } catch (err) {
    process.stderr.write(`build: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
