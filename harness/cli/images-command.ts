import type { Command } from 'commander';
import { buildImage } from '../images/build.ts';
import { getManifest } from '../images/manifest.ts';

/** Ctrl-C / SIGTERM must still run the exit hooks that remove temp dirs and partial files. */
function exitOnSignals(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143));
}

const say = (line: string) => process.stderr.write(`${line}\n`);

export function registerImages(program: Command): void {
  const images = program.command('images').description('the image catalog (images/*.yaml): list, download and verify, build offline');

  images
    .command('build')
    .description('build an image from its recipe (images/recipes/) into the cache; a cached build of the same recipe is reused')
    .argument('<name>', 'image name, e.g. debian-12-eni, debian-12-netplan, fixture-busybox')
    .option('--force', 'rebuild even if a build of this recipe is cached')
    .action(async (name: string, opts: { force?: boolean }) => {
      exitOnSignals();
      const manifest = await getManifest(name);
      const img = await buildImage(manifest, { force: opts.force, log: say });
      process.stdout.write(`${[img.path, img.kernel, img.initrd].filter(Boolean).join('\n')}\n`);
    });
}
