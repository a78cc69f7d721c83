import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Listr } from 'listr2';
import type { Command } from 'commander';
import { catalogDir, loadCatalog } from '../images/manifest.ts';
import { startMetadataService, type MetadataService } from '../metadata/service.ts';
import { UserError } from '../util/errors.ts';
import { packageVersion } from '../util/package-root.ts';
import type { CellResult, CellSpec } from '../matrix/cell.ts';
import { caseFileSchema } from '../matrix/case-schema.ts';
import { planFromFiles } from '../matrix/plan-files.ts';
import { runMatrix, type KeepMode, type MatrixEvent, type MatrixOptions, type RunCellFn, type RunCellOptions } from '../matrix/runner.ts';
import { runKeyPair } from '../ssh/keys.ts';
import { defaultJobs, parseJobs, parseShard, type Shard } from '../matrix/select.ts';
import { summarize, formatMs, type RunReport } from '../report/model.ts';
import { redactText, usableSecrets } from '../report/redact.ts';
import { writeReports } from '../report/write.ts';
import { registerSchema } from './schema-command.ts';

interface RunOpts {
  image: string[];
  filter: string[];
  jobs?: string;
  shard?: string;
  reportDir?: string;
  keep: string;
  list?: boolean;
  progress?: 'auto' | 'tty' | 'plain';
}

const collect = (v: string, prev: string[]) => [...prev, v];
const KEEP_MODES = ['on-failure', 'always', 'never'] as const;

export function registerRun(program: Command): void {
  registerSchema('case', caseFileSchema, 'case file (cloudprobe run; cases/*.yaml)');
  program
    .command('run')
    .description('run the regression matrix: expand case files into cells (image × datasource × network), boot each cell, probe it, write reports')
    .argument('[paths...]', 'case files or directories of *.yaml cases', ['cases'])
    .option('--image <name>', 'only cells on this image (repeatable, or comma separated)', collect, [])
    .option('--filter <pattern>', 'only cells whose id (<case>/<image>/<datasource>/<network>) matches; * is a wildcard, otherwise a substring (repeatable)', collect, [])
    .option('--jobs <n>', 'VMs at once (default: about one per core, at most free memory ÷ 1.5 GiB)')
    .option('--shard <i/n>', 'run only the i-th of n deterministic shards of the matrix (for CI runners sharing one matrix)')
    .option('--report-dir <dir>', 'where results.json, junit.xml, matrix.md, matrix.html and artifacts/ go (default: $REPORT_DIR or ./reports)')
    .option('--keep <mode>', `keep VMs running after their probes, each printing the ssh command to reach it, until Ctrl-C: ${KEEP_MODES.join(', ')} (a kept VM holds its job slot; its work dir is kept too)`, 'never')
    .option('--list', 'print the planned cells (and skipped ones, with why) without booting anything')
    .option('--progress <style>', 'auto (listr2 on a TTY, plain lines otherwise), tty or plain', 'auto')
    .addHelpText(
      'after',
      `
Examples:
  npx cloudprobe run                                   # every case under cases/
  npx cloudprobe run cases/seed-article.yaml --image debian-12-eni --jobs 2
  npx cloudprobe run --filter '*/metadata-openstack/*' --keep on-failure
  npx cloudprobe run --shard 1/3 --report-dir reports/shard-1

Exit status: 0 when every cell passed (skipped cells do not fail a run), 1 when a cell failed or
errored, 2 for a broken case file or bad flag (nothing is booted then), 130 when interrupted.`,
    )
    .action(async (paths: string[], opts: RunOpts) => {
      process.exitCode = await runCommand(paths, opts);
    });
}

async function loadRunCell(): Promise<RunCellFn> {
  // run-cell.ts is the VM layer's entry point; imported lazily so `--list` and planning never load QEMU code.
  const mod: { runCell: RunCellFn } = await import('../matrix/run-cell.ts');
  return mod.runCell;
}

/** One metadata service for the whole run; runCell adds each cell's instance (and its IMDSv2 mode) to it. */
async function startMetadata(cells: CellSpec[]): Promise<MetadataService | undefined> {
  if (!cells.some((c) => c.datasource.startsWith('metadata-'))) return undefined;
  return startMetadataService();
}

function resultLine(r: CellResult): string {
  const t = formatMs(r.timings.totalMs);
  if (r.outcome === 'pass') {
    const na = r.verdicts.filter((v) => v.status === 'n/a').length;
    return `PASS  ${r.id} (${t}${na ? `, ${na} n/a` : ''})`;
  }
  if (r.outcome === 'error') return `ERROR ${r.id} (${t}) at ${r.error?.stage ?? r.stage}: ${r.error?.message ?? 'unknown error'}`;
  const failed = r.verdicts.filter((v) => v.status === 'fail');
  return `FAIL  ${r.id} (${t}): ${failed.map((v) => `${v.probe}: ${v.summary}`).join('; ')}`;
}

/** What --keep left behind: a running VM's ssh command when runCell reports one, else its work dir. */
function keptLine(r: CellResult): string | undefined {
  const kept = (r as CellResult & { kept?: { sshCommand?: string } }).kept;
  if (kept?.sshCommand) return `kept ${r.id}: ${kept.sshCommand}`;
  return r.artifacts.workDir ? `kept ${r.id}: work dir ${r.artifacts.workDir} (overlay, config drive, serial log)` : undefined;
}

/**
 * --keep: hold a VM after its probes (runCell's `inspect` hook) and print how to reach it, until
 * Ctrl-C. on-failure holds only cells with a failed probe (read from the cell's verdicts.json);
 * always holds every cell. A held VM keeps its job slot.
 */
function holdHook(keep: KeepMode, artifactsRoot: string, signal: AbortSignal, say: (line: string) => void, keyFile: () => Promise<string>): ((cell: CellSpec) => Partial<RunCellOptions>) | undefined {
  if (keep === 'never') return undefined;
  return (cell) => ({
    inspect: async (ctx) => {
      if (keep === 'on-failure') {
        const verdicts = JSON.parse(await readFile(join(artifactsRoot, cell.id, 'verdicts.json'), 'utf8').catch(() => '[]')) as { status: string }[];
        if (!verdicts.some((v) => v.status === 'fail')) return;
      }
      say(`kept ${cell.id}: ssh -i ${await keyFile()} -p ${ctx.ssh.port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null ${ctx.ssh.user}@${ctx.ssh.host}   (running until Ctrl-C)`);
      await new Promise<void>((done) => (signal.aborted ? done() : signal.addEventListener('abort', () => done(), { once: true })));
    },
  });
}

export async function runCommand(paths: string[], opts: RunOpts): Promise<number> {
  if (!(KEEP_MODES as readonly string[]).includes(opts.keep)) throw new UserError(`--keep ${opts.keep}: expected one of ${KEEP_MODES.join(', ')}`);
  const keep = opts.keep as KeepMode;
  const jobs = opts.jobs !== undefined ? parseJobs(opts.jobs) : defaultJobs();
  const shard: Shard | undefined = opts.shard !== undefined ? parseShard(opts.shard) : undefined;
  const reportDir = resolve(opts.reportDir ?? process.env.REPORT_DIR ?? 'reports');

  // Everything that can be wrong with the input is found here, before anything boots.
  const plan = await planFromFiles(paths.length ? paths : ['cases'], {
    ...(opts.image.length ? { images: opts.image } : {}),
    ...(opts.filter.length ? { filter: opts.filter } : {}),
    ...(shard ? { shard } : {}),
  });
  const secrets = usableSecrets(plan.cells.flatMap((c) => c.secrets));
  const say = (line: string) => process.stdout.write(`${redactText(line, secrets)}\n`);

  if (opts.list) {
    for (const c of plan.cells) say(`run   ${c.id}`);
    for (const s of plan.skipped) say(`skip  ${s.id}: ${s.reason}`);
    say(`${plan.cells.length} to run, ${plan.skipped.length} skipped${shard ? ` (shard ${shard.index}/${shard.count})` : ''}`);
    return 0;
  }
  if (plan.cells.length === 0 && plan.skipped.length === 0) throw new UserError('no cells match (check --image and --filter)');
  // Downloaded images may legitimately be absent (skipped); images built offline from a recipe
  // can always be had here, so a missing one means the run would silently prove nothing.
  const catalog = await loadCatalog(catalogDir());
  const unbuilt = [...new Set(plan.skipped.filter((s) => s.kind === 'unavailable' && catalog.manifests.get(s.image)?.source.kind === 'build').map((s) => s.image))];
  if (unbuilt.length > 0) {
    throw new UserError(`not built yet: ${unbuilt.join(', ')} — run \`make image\` or ${unbuilt.map((i) => `npx cloudprobe images build ${i}`).join(' && ')} (or leave them out with --image/--filter)`);
  }

  const controller = new AbortController();
  let interrupts = 0;
  // The VM layer's safety net (harness/vm/cleanup.ts) stops its VMs on these signals too, and
  // leaves the exit to us since we listen as well: the reports are written first.
  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write(`\ncloudprobe: ${sig}: stopping every VM and writing reports (again to quit at once)\n`);
      controller.abort(new Error(`interrupted by ${sig}`));
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const startedAt = new Date();
  let metadata: MetadataService | undefined;
  let keyDir: string | undefined;
  try {
    say(`cloudprobe run: ${plan.cells.length} cells, ${plan.skipped.length} skipped, ${jobs} job(s)${shard ? `, shard ${shard.index}/${shard.count}` : ''}; reports in ${reportDir}`);
    for (const s of plan.skipped) say(`SKIP  ${s.id}: ${s.reason}`);
    const runCell = plan.cells.length ? await loadRunCell() : undefined;
    metadata = await startMetadata(plan.cells);
    const cellOptions = { artifactsRoot: join(reportDir, 'artifacts'), keep, ...(metadata ? { metadataService: metadata } : {}) };
    const keyFile = async () => {
      keyDir ??= await mkdtemp(join(tmpdir(), 'cloudprobe-keep-'));
      const file = join(keyDir, 'id_ed25519');
      await writeFile(file, runKeyPair().privateKey, { mode: 0o600 });
      return file;
    };
    const perCell = holdHook(keep, cellOptions.artifactsRoot, controller.signal, say, keyFile);

    const useTty = opts.progress === 'tty' || (opts.progress !== 'plain' && process.stdout.isTTY === true && !process.env.CI);
    const outcome = runCell
      ? useTty
        ? await runWithListr(plan.cells, { jobs, runCell, cellOptions, signal: controller.signal, ...(perCell ? { perCell } : {}) }, secrets)
        : await runMatrix(plan.cells, { jobs, runCell, cellOptions, signal: controller.signal, onEvent: plainPrinter(say), ...(perCell ? { perCell } : {}) })
      : { results: [], cancelled: [] };

    const finishedAt = new Date();
    const skipped = [...plan.skipped, ...outcome.cancelled];
    const report: RunReport = {
      tool: 'cloudprobe',
      version: packageVersion(),
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      wallMs: finishedAt.getTime() - startedAt.getTime(),
      jobs,
      ...(shard ? { shard } : {}),
      interrupted: controller.signal.aborted,
      results: outcome.results,
      skipped,
      summary: summarize(outcome.results, skipped),
    };
    const files = await writeReports(report, reportDir, secrets);
    for (const r of outcome.results) {
      const k = keptLine(r);
      if (k) say(k);
    }
    const s = report.summary;
    say(`${s.passed} passed, ${s.failed + s.errors} failed, ${s.skipped} skipped — wall ${formatMs(report.wallMs)}, VM time ${formatMs(s.vmMsTotal)} over ${jobs} job(s)`);
    say(`reports: ${files.html} ${files.markdown} ${files.junit} ${files.json}`);
    if (report.interrupted) return 130;
    return s.failed + s.errors > 0 ? 1 : 0;
  } finally {
    await metadata?.close();
    if (keyDir) await rm(keyDir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function plainPrinter(say: (line: string) => void): (e: MatrixEvent) => void {
  const stamp = () => new Date().toISOString().slice(11, 19);
  return (e) => {
    if (e.type === 'start') say(`[${stamp()}] start ${e.cell.id}`);
    else if (e.type === 'log') say(`[${stamp()}] ${e.cell.id}: ${e.line}`);
    else if (e.type === 'done') say(`[${stamp()}] ${resultLine(e.result)}`);
    else say(`[${stamp()}] cancelled ${e.cell.id}`);
  };
}

/** listr2 on a TTY: one line per cell; p-limit (in runMatrix) still decides what runs when. */
async function runWithListr(cells: CellSpec[], opts: Omit<MatrixOptions, 'onEvent'>, secrets: string[]): ReturnType<typeof runMatrix> {
  type Hooks = { setTitle(t: string): void; setOutput(o: string): void; finish(r?: CellResult): void };
  const hooks = new Map<string, Hooks>();
  const ready = new Map<string, Promise<void>>();
  const list = new Listr(
    cells.map((cell) => ({
      title: `${cell.id} (queued)`,
      task: (_ctx: unknown, task: { title: string; output: string }) =>
        new Promise<void>((done, fail) => {
          hooks.set(cell.id, {
            setTitle: (t) => (task.title = t),
            setOutput: (o) => (task.output = redactText(o, secrets)),
            finish: (r) => (r && r.outcome !== 'pass' ? fail(new Error(redactText(resultLine(r), secrets))) : done()),
          });
        }),
    })),
    { concurrent: true, exitOnError: false, registerSignalListeners: false, rendererOptions: { collapseErrors: false } },
  );
  const rendered = list.run().catch(() => {});
  // Listr calls each task function on its next tick; wait until every cell has its hooks.
  for (const c of cells) ready.set(c.id, waitFor(() => hooks.has(c.id)));
  await Promise.all(ready.values());
  const outcome = await runMatrix(cells, {
    ...opts,
    onEvent: (e) => {
      const h = hooks.get(e.cell.id);
      if (!h) return;
      if (e.type === 'start') h.setTitle(`${e.cell.id} (running)`);
      else if (e.type === 'log') h.setOutput(e.line);
      else if (e.type === 'done') {
        h.setTitle(redactText(resultLine(e.result), secrets));
        h.finish(e.result);
      } else {
        h.setTitle(`${e.cell.id} (cancelled)`);
        h.finish();
      }
    },
  });
  await rendered;
  return outcome;
}

async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}
