/**
 * Matrix throughput: wall time of a `cloudprobe run` vs the sum of its cells' VM times ÷ jobs
 * (the ideal when `jobs` VMs run side by side and the harness adds nothing).
 *
 *   npx tsx bench/matrix.ts [--jobs N] [case paths…]   runs the matrix into bench/out/matrix
 *   npx tsx bench/matrix.ts --from reports/results.json   analyses an existing run (e.g. make e2e)
 *
 * Prints a Markdown table for bench/RESULTS.md. ratio > 1: slower than ideal parallelism (CPU
 * contention between guests under TCG, queue tail); the per-cell line shows where time went.
 */
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import type { RunReport } from '../harness/report/model.ts';
import { buildDist } from '../scripts/build.ts';

process.stdout.on('error', () => {}); // e.g. piped into head
const args = process.argv.slice(2);
const fromIdx = args.indexOf('--from');
let file: string;
if (fromIdx >= 0) {
  file = args[fromIdx + 1] ?? 'reports/results.json';
} else {
  const out = 'bench/out/matrix';
  await buildDist(); // bin/cloudprobe.js runs dist/: measure the current sources, not an old build
  await execa('node', ['bin/cloudprobe.js', 'run', ...args, '--report-dir', out, '--progress', 'plain'], { stdio: 'inherit', reject: false });
  file = `${out}/results.json`;
}
const r = JSON.parse(await readFile(file, 'utf8')) as RunReport;
const s = (ms: number) => (ms / 1000).toFixed(0);
const ideal = r.summary.vmMsTotal / r.jobs;
console.log(`| cells run | jobs | wall s | Σ VM s | Σ VM ÷ jobs s | wall ÷ ideal | outcome |`);
console.log(`|---|---|---|---|---|---|---|`);
console.log(
  `| ${r.results.length} | ${r.jobs} | ${s(r.wallMs)} | ${s(r.summary.vmMsTotal)} | ${s(ideal)} | ${(r.wallMs / ideal).toFixed(2)} | ${r.summary.passed} pass, ${r.summary.failed} fail, ${r.summary.errors} error, ${r.summary.skipped} skipped |`,
);
console.log('');
console.log('| cell | SSH banner s | cloud-init done s | probes done s | total s | outcome |');
console.log('|---|---|---|---|---|---|');
for (const c of r.results) {
  const t = c.timings;
  const f = (ms: number | undefined) => (ms === undefined ? '–' : s(ms));
  console.log(`| ${c.id} | ${f(t['ssh-banner'])} | ${f(t['cloud-init'])} | ${f(t.probes)} | ${f(t.totalMs)} | ${c.outcome} |`);
}
