import type { Command } from 'commander';
import { interruptExitCode, interruptSignal } from '../run/interrupt.ts';
import { buildImage } from '../images/build.ts';
import { inspectCloudInitDeb } from '../images/cloud-init-deb.ts';
import { BuildInterrupted } from '../images/build-processes.ts';
import { fetchImage } from '../images/download.ts';
import { listImages, formatImageList } from '../images/list.ts';
import { DEFAULT_KEYSERVER, KEYSERVER_ENV } from '../images/keyserver.ts';
import { getManifest } from '../images/manifest.ts';
import { FETCH_KEY_ENV, KEYRING_ENV } from '../images/signing-key.ts';

/** An interrupt (the CLI's one handler) exits at once, so the exit hooks that remove temp dirs and locks run. */
function exitOnSignals(): void {
  interruptSignal()?.addEventListener('abort', () => process.exit(interruptExitCode()), { once: true });
}

const say = (line: string) => process.stderr.write(`${line}\n`);

export function registerImages(program: Command): void {
  const images = program
    .command('images')
    .description('the image catalog (images/*.yaml): list, download with verification, build offline')
    .addHelpText('after', '\nCache: $CLOUDPROBE_IMAGE_CACHE, else $XDG_CACHE_HOME/cloudprobe/images (~/.cache/cloudprobe/images).');

  images
    .command('list')
    .description('every image in the catalog: source kind, whether it is cached, size and path')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const rows = await listImages();
      process.stdout.write(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatImageList(rows)}\n`);
    });

  images
    .command('fetch')
    .description('download an image, verify its SHA-256 (and the GPG signature of its checksum file when the manifest has one) and cache it; an interrupted download resumes')
    .argument('<name>', 'image name, e.g. cirros-0.6.3, ubuntu-24.04')
    .option('--mirror <url>', 'fetch from <url>/<host>/<path> instead of the original URL (the layout `wget -x URL` makes); env CLOUDPROBE_MIRROR')
    .option('--force', 'download again even if a verified copy is cached')
    .option('--keyring <file>', `key file (binary or armored) holding the signing key the manifest pins (gpg.fingerprint); only that key is used. Else $${KEYRING_ENV}, the manifest's gpg.keyring, <cache>/keys/<FINGERPRINT>.gpg`)
    .option('--fetch-key', `the host has internet: fetch a missing pinned key from the keyserver ($${KEYSERVER_ENV}, default ${DEFAULT_KEYSERVER}) into <cache>/keys/; env ${FETCH_KEY_ENV}=1`)
    .action(async (name: string, opts: { mirror?: string; force?: boolean; keyring?: string; fetchKey?: boolean }) => {
      exitOnSignals();
      const manifest = await getManifest(name);
      const img = await fetchImage(manifest, {
        mirror: opts.mirror,
        force: opts.force,
        keyring: opts.keyring,
        fetchKey: opts.fetchKey,
        log: say,
        progress: process.stderr.isTTY ? 'tty' : 'lines',
      });
      process.stdout.write(`${img.path}\n`);
    });

  images
    .command('build')
    .description('build an image from its recipe (images/recipes/) into the cache; a cached build of the same recipe is reused. Debian images need root, mmdebstrap and the Debian mirror (CLOUDPROBE_DEBIAN_MIRROR overrides http://deb.debian.org)')
    .argument('<name>', 'image name, e.g. debian-12-eni, debian-12-netplan, fixture-busybox')
    .option('--force', 'rebuild even if a build of this recipe is cached')
    .option('--cloud-init-deb <file>', 'install this cloud-init .deb over the archive\'s: a derived image, cached by the package\'s SHA-256 beside the image\'s own build (which stays as it is)')
    .action(async (name: string, opts: { force?: boolean; cloudInitDeb?: string }) => {
      // An interrupt stops every command of the build and waits for them before the temp root is
      // removed (harness/images/build-processes.ts); then the command ends with 130/143.
      const signal = interruptSignal();
      const manifest = await getManifest(name);
      const cloudInitDeb = opts.cloudInitDeb !== undefined ? await inspectCloudInitDeb(opts.cloudInitDeb, '--cloud-init-deb') : undefined;
      try {
        const img = await buildImage(manifest, { force: opts.force, log: say, ...(signal ? { signal } : {}), ...(cloudInitDeb ? { cloudInitDeb } : {}) });
        process.stdout.write(`${[img.path, img.kernel, img.initrd].filter(Boolean).join('\n')}\n`);
      } catch (err) {
        if (!(err instanceof BuildInterrupted) && !signal?.aborted) throw err;
        say(`${name}: build interrupted; nothing was cached`);
        process.exitCode = interruptExitCode();
      }
    });
}
