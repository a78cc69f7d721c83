// Config drive build time, both formats (issue 6: "building a drive takes well under a second").
// Run: npx tsx bench/drive-build.ts [runs]   — prints a Markdown table for bench/RESULTS.md.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildConfigDrive, type ConfigDriveFormat } from '../harness/datasource/configdrive.ts';
import { parseInstance, type Instance } from '../harness/model/instance.ts';
import { configDriveFiles } from '../harness/datasource/nova-metadata.ts';

const RUNS = Number(process.argv[2] ?? 20);

const TYPICAL = `
name: bench
public_keys: {k: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBench bench@host"}
user_data: |
  #cloud-config
  hostname: bench
  runcmd: [[mkdir, /yunshan]]
vendor_data: {cloud-init: "#cloud-config\\ntimezone: Asia/Shanghai\\n"}
nics:
  - {mac: "52:54:00:00:00:01", mode: static, address: 10.0.2.50/24, gateway: 10.0.2.2, dns: [10.0.2.3]}
  - {mac: "52:54:00:00:00:02"}
`;

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
  return { min: s[0] as number, median: at(0.5), p95: at(0.95), max: s[s.length - 1] as number };
}

async function time(fn: () => Promise<unknown> | unknown): Promise<number[]> {
  await fn(); // warm-up: tool lookup, page cache
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

async function main() {
  const typical = await parseInstance(TYPICAL, 'bench.yaml', '/');
  // A heavy one: 20 injected files of 64 KiB and 400 KiB of user data.
  const heavy: Instance = {
    ...typical,
    user_data: `#cloud-config\n# ${'x'.repeat(400 * 1024)}\n`,
    files: Array.from({ length: 20 }, (_, i) => ({ path: `/opt/f${i}`, content: 'y'.repeat(64 * 1024) })),
  };
  const dir = await mkdtemp(join(tmpdir(), 'cloudprobe-bench-'));
  const rows: string[] = [];
  try {
    for (const [label, inst] of [['typical', typical], ['heavy (20×64 KiB files, 400 KiB user data)', heavy]] as const) {
      const tree = stats(await time(() => configDriveFiles(inst)));
      rows.push(`| ${label} | tree only (in memory) | ${fmt(tree)} |`);
      for (const format of ['iso9660', 'vfat'] as ConfigDriveFormat[]) {
        const s = stats(await time(() => buildConfigDrive(inst, { format, output: join(dir, `d.${format}`) })));
        rows.push(`| ${label} | ${format} | ${fmt(s)} |`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`Config drive builds, ${RUNS} runs each after one warm-up; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}.\n`);
  console.log('| instance | format | min ms | median ms | p95 ms | max ms |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

function fmt(s: ReturnType<typeof stats>): string {
  return [s.min, s.median, s.p95, s.max].map((v) => v.toFixed(1)).join(' | ');
}

await main();
