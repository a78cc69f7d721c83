/**
 * Image build times and sizes, and how fast the fixture reaches "ready" under TCG.
 *   npx tsx bench/image-build.ts [--no-force] [--boots N] [images...]
 * Rebuilds each image (unless --no-force) into the normal cache, times a second (cached) build,
 * records file sizes and qcow2 virtual size, boots fixture-busybox N times (default 3) with an
 * iso9660 config drive and without any, writes bench/out/image-build.json and replaces the
 * images section of bench/RESULTS.md. Build times come from each build's build.json, so
 * --no-force reports the builds already in the cache.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildImage, findBuilt } from '../harness/images/build.ts';
import { getManifest } from '../harness/images/manifest.ts';

const args = process.argv.slice(2);
const force = !args.includes('--no-force');
const bootsAt = args.indexOf('--boots');
const boots = bootsAt >= 0 ? Number(args[bootsAt + 1]) : 3;
const names = args.filter((a, i) => !a.startsWith('--') && (bootsAt < 0 || i !== bootsAt + 1));
const images = names.length ? names : ['fixture-busybox', 'debian-12-eni', 'debian-12-netplan'];

interface Row {
  name: string;
  buildS: number;
  builtAt: string;
  cachedS: number;
  diskMiB?: number;
  virtualGiB?: number;
  kernelMiB?: number;
  initrdMiB?: number;
}

const mib = async (f?: string) => (f ? (await stat(f)).size / 1048576 : undefined);

async function measure(name: string): Promise<Row> {
  const manifest = await getManifest(name);
  const img = await buildImage(manifest, { force, log: (l) => process.stderr.write(`${l}\n`) });
  const record = (await findBuilt(manifest))?.record;
  if (!record) throw new Error(`${name}: no build record after building`);
  const t1 = performance.now();
  await buildImage(manifest, {});
  const cachedS = (performance.now() - t1) / 1000;
  let virtualGiB: number | undefined;
  if (img.path) {
    const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', img.path])).stdout) as { 'virtual-size': number };
    virtualGiB = info['virtual-size'] / 2 ** 30;
  }
  return { name, buildS: record.durationMs / 1000, builtAt: record.builtAt, cachedS, diskMiB: await mib(img.path), virtualGiB, kernelMiB: await mib(img.kernel), initrdMiB: await mib(img.initrd) };
}

/** Seconds from qemu start to "cloudprobe-fixture: ready" on the serial console (TCG, 256 MiB). */
async function fixtureBoot(withDrive: boolean): Promise<number> {
  const img = await buildImage(await getManifest('fixture-busybox'), {});
  const dir = await mkdtemp(join(tmpdir(), 'cloudprobe-bench-'));
  const log = join(dir, 'console.log');
  const drive: string[] = [];
  if (withDrive) {
    await mkdir(join(dir, 'tree/openstack/latest'), { recursive: true });
    await writeFile(join(dir, 'tree/openstack/latest/meta_data.json'), JSON.stringify({ uuid: 'bench', hostname: 'bench', public_keys: {} }));
    await execa('xorriso', ['-as', 'mkisofs', '-quiet', '-o', join(dir, 'cd.iso'), '-V', 'config-2', '-J', '-R', join(dir, 'tree')]);
    drive.push('-cdrom', join(dir, 'cd.iso'));
  }
  const t0 = performance.now();
  const qemu = execa('qemu-system-x86_64', [
    '-accel', 'tcg', '-m', '256', '-smp', '1', '-display', 'none', '-monitor', 'none', '-serial', `file:${log}`,
    '-kernel', img.kernel as string, '-initrd', img.initrd as string, '-append', img.cmdline ?? 'console=ttyS0',
    '-netdev', 'user,id=n0,restrict=on', '-device', 'virtio-net-pci,netdev=n0', ...drive,
  ], { reject: false });
  try {
    for (;;) {
      const text = await readFile(log, 'utf8').catch(() => '');
      if (text.includes('cloudprobe-fixture: ready')) return (performance.now() - t0) / 1000;
      if (qemu.exitCode !== null || performance.now() - t0 > 120_000) throw new Error(`fixture did not get ready:\n${text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    qemu.kill('SIGTERM');
    await qemu;
    await rm(dir, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
for (const name of images) rows.push(await measure(name));
const bootTimes: number[] = [];
const bootTimesNoDrive: number[] = [];
for (let i = 0; i < boots; i++) {
  bootTimes.push(await fixtureBoot(true));
  bootTimesNoDrive.push(await fixtureBoot(false));
}

const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
const result = { date: new Date().toISOString(), force, load, rows, fixtureBootS: { isoConfigDrive: bootTimes, noDrive: bootTimesNoDrive } };
await mkdir('bench/out', { recursive: true });
await writeFile('bench/out/image-build.json', `${JSON.stringify(result, null, 2)}\n`);

const f = (n: number | undefined, d = 1) => (n === undefined ? '–' : n.toFixed(d));
const section = [
  '<!-- images:begin -->',
  '## Image builds (issue 3, `bench/image-build.ts`)',
  '',
  `\`npx tsx bench/image-build.ts\` rebuilds each image with \`--force\` (build s is from each build's build.json), then times a second (cached) build; sizes are the cached files. Measured ${result.date.slice(0, 10)} on the 2-core dev VM (load average after the run: ${load}; other helpers' VMs share the CPUs). Each Debian build downloads its packages from deb.debian.org again (mmdebstrap keeps no package cache).`,
  '',
  '| image | build s | built at | cached build s | qcow2 MiB | virtual GiB | kernel MiB | initrd MiB |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.name} | ${f(r.buildS)} | ${r.builtAt.slice(11, 16)} UTC | ${f(r.cachedS, 2)} | ${f(r.diskMiB)} | ${f(r.virtualGiB)} | ${f(r.kernelMiB)} | ${f(r.initrdMiB)} |`),
  '',
  bootTimes.length
    ? `fixture-busybox, qemu start to \`cloudprobe-fixture: ready\` (TCG, 1 vCPU, 256 MiB): with an iso9660 config drive ${bootTimes.map((t) => t.toFixed(1)).join(', ')} s; with no drive (it looks for one until the block devices settle, then tries the metadata service) ${bootTimesNoDrive.map((t) => t.toFixed(1)).join(', ')} s.`
    : '',
  '<!-- images:end -->',
].join('\n');
const results = await readFile('bench/RESULTS.md', 'utf8').catch(() => '# Benchmarks\n');
const re = /<!-- images:begin -->[\s\S]*<!-- images:end -->/;
await writeFile('bench/RESULTS.md', re.test(results) ? results.replace(re, section) : `${results.trimEnd()}\n\n${section}\n`);
process.stdout.write(`${section}\n`);
