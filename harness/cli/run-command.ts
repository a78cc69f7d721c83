import { checkNetworkBackends } from '../run/network-availability.ts';
import { join, resolve } from 'node:path';
import { Listr } from 'listr2';
import type { Command } from 'commander';
import { catalogDir, loadCatalog } from '../images/manifest.ts';
import { KEEP_MODES, type CellResult, type CellSpec, type KeepMode } from '../model/cell.ts';
import { caseFileSchema } from '../plan/case-schema.ts';
import { planFromFiles } from '../plan/plan-files.ts';
import { defaultJobs, parseJobs, parseShard, type Shard } from '../plan/select.ts';
import { formatMs } from '../report/model.ts';
import { redactText, usableSecrets } from '../util/redact.ts';
import { interruptExitCode, interruptSignal } from '../run/interrupt.ts';
import { DEFAULT_RETRY_ERRORS, RunSession, type RunOutcome } from '../run/session.ts';
import { UserError } from '../util/errors.ts';
import { packageVersion } from '../util/package-root.ts';
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
  retryErrors: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];


export function registerRun(program: Command): void {
  registerSchema('case', caseFileSchema, 'case file (cloudprobe run; cases/*.yaml)');
  program
    .command('run')
    .description('run the regression matrix: expand case files into cells (image × datasource × network), boot each cell, probe it, write reports')
    .argument('[paths...]', 'case files or directories of *.yaml cases', ['cases'])
    .option('--image <name>', 'only cells on this image (repeatable, or comma separated)', collect, [])
    .option('--filter <pattern>', 'only cells whose id (<case>/<image>/<datasource>/<network>) matches; * is a wildcard, otherwise a substring (repeatable)', collect, [])
    .option('--jobs <n>', 'VMs at once, or auto (the default: about one per core, at most free memory ÷ 1.5 GiB)')
    .option('--shard <i/n>', 'run only the i-th of n deterministic shards of the matrix (for CI runners sharing one matrix)')
    .option('--report-dir <dir>', 'where results.json, junit.xml, matrix.md, matrix.html and artifacts/ go (default: $REPORT_DIR or ./reports)')
    .option('--keep <mode>', `keep VMs running after their probes, each printing the ssh command to reach it, until Ctrl-C: ${KEEP_MODES.join(', ')} (a kept VM holds its job slot; its work dir is kept too)`, 'never')
    .option('--retry-errors <n>', 'run a cell that ended in error (the harness could not look: a stage timeout, lost SSH) again, up to n times; the earlier tries are named in every report (a fail is never retried)', String(DEFAULT_RETRY_ERRORS))
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
errored, 2 for a broken case file or bad flag (nothing is booted then), 130 when interrupted by
Ctrl-C, 143 by SIGTERM or when the parent process (e.g. npx) went away — the reports are written
and every VM's console and metadata logs kept either way.`,
    )
    .action(async (paths: string[], opts: RunOpts) => {
      process.exitCode = await runCommand(paths, opts);
    });
}

/** 0–5: more tries than that hide a broken host instead of naming it. */
function parseRetryErrors(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 5) throw new UserError(`--retry-errors ${v}: expected a whole number from 0 to 5`);
  return Number(v);
}

function resultLine(r: CellResult): string {
  const line = outcomeLine(r);
  const tries = r.retriedAfter ?? [];
  if (!tries.length) return line;
  return `${line} — after ${tries.length === 1 ? 'an error' : `${tries.length} errors`}: ${tries.map((a, k) => `try ${k + 1} at ${a.stage}: ${(a.error?.message ?? a.erroredProbes.join(', ')).split('\n')[0]}`).join('; ')}`;
}

function outcomeLine(r: CellResult): string {
  const t = formatMs(r.timings.totalMs);
  const errored = r.verdicts.filter((v) => v.status === 'error');
  if (r.outcome === 'pass') {
    const na = r.verdicts.filter((v) => v.status === 'n/a').length;
    return `PASS  ${r.id} (${t}${na ? `, ${na} n/a` : ''})`;
  }
  if (r.outcome === 'error') {
    if (r.error) return `ERROR ${r.id} (${t}) at ${r.error.stage}: ${r.error.message}`;
    return `ERROR ${r.id} (${t}): could not look: ${errored.map((v) => `${v.probe}: ${v.summary}`).join('; ')}`;
  }
  const failed = r.verdicts.filter((v) => v.status === 'fail');
  return `FAIL  ${r.id} (${t}): ${failed.map((v) => `${v.probe}: ${v.summary}`).join('; ')}`;
}

/** What --keep left behind: a held VM's ssh command, else its work dir. */
function keptLine(r: CellResult): string | undefined {
  if (r.kept?.sshCommand) return `kept ${r.id}: ${r.kept.sshCommand}`;
  return r.artifacts.workDir ? `kept ${r.id}: work dir ${r.artifacts.workDir} (overlay, config drive, serial log)` : undefined;
}

export async function runCommand(paths: string[], opts: RunOpts): Promise<number> {
  if (!(KEEP_MODES as readonly string[]).includes(opts.keep)) throw new UserError(`--keep ${opts.keep}: expected one of ${KEEP_MODES.join(', ')}`);
  const keep = opts.keep as KeepMode;
  const jobs = opts.jobs !== undefined ? parseJobs(opts.jobs) : defaultJobs();
  const retryErrors = parseRetryErrors(opts.retryErrors);
  const shard: Shard | undefined = opts.shard !== undefined ? parseShard(opts.shard) : undefined;
  const reportDir = resolve(opts.reportDir ?? process.env.REPORT_DIR ?? 'reports');

  // Everything that can be wrong with the input is found here, before anything boots.
  let plan = await planFromFiles(paths.length ? paths : ['cases'], {
    ...(opts.image.length ? { images: opts.image } : {}),
    ...(opts.filter.length ? { filter: opts.filter } : {}),
    ...(shard ? { shard } : {}),
  });
  const secrets = usableSecrets(plan.cells.flatMap((c) => c.secrets));
  const say = (line: string) => process.stdout.write(`${redactText(line, secrets)}\n`);

  if (opts.list) {
    // Shows what would be skipped for a missing network backend; sweeps nothing.
    plan = await checkNetworkBackends(plan, { sweep: false });
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

  const session = new RunSession({
    plan,
    jobs,
    artifactsRoot: join(reportDir, 'artifacts'),
    reportDir,
    keep,
    retryErrors,
    ...(shard ? { shard } : {}),
    version: packageVersion(),
    ...(interruptSignal() ? { signal: interruptSignal()! } : {}),
    say,
  });
  say(`cloudprobe run: ${plan.cells.length} cells, ${plan.skipped.length} skipped, ${jobs} job(s)${shard ? `, shard ${shard.index}/${shard.count}` : ''}; reports in ${reportDir}`);
  for (const s of plan.skipped) say(`SKIP  ${s.id}: ${s.reason}`);
  const useTty = opts.progress === 'tty' || (opts.progress !== 'plain' && process.stdout.isTTY === true && !process.env.CI);
  const { report, files } = useTty ? await runWithListr(session, plan.cells, secrets) : await runPlain(session, say);
  for (const r of report.results) {
    const k = keptLine(r);
    if (k) say(k);
  }
  const s = report.summary;
  say(`${s.passed} passed, ${s.failed + s.errors} failed, ${s.skipped} skipped${s.retried ? ` (${s.retried} run again after an error)` : ''} — wall ${formatMs(report.wallMs)}, VM time ${formatMs(s.vmMsTotal)} over ${jobs} job(s)`);
  if (files) say(`reports: ${files.html} ${files.markdown} ${files.junit} ${files.json}`);
  if (report.interrupted) return interruptExitCode();
  return s.failed + s.errors > 0 ? 1 : 0;
}

/** Plain lines, one per event: for logs and CI. */
function runPlain(session: RunSession, say: (line: string) => void): Promise<RunOutcome> {
  const stamp = () => new Date().toISOString().slice(11, 19);
  session.onEvent((e) => {
    if (e.type === 'start') say(`[${stamp()}] start ${e.cell.id}`);
    else if (e.type === 'log') say(`[${stamp()}] ${e.cell.id}: ${e.line}`);
    else if (e.type === 'done') say(`[${stamp()}] ${resultLine(e.result)}`);
    else say(`[${stamp()}] cancelled ${e.cell.id}`);
  });
  return session.run();
}

/** listr2 on a TTY: one line per cell; the session's scheduler still decides what runs when. */
async function runWithListr(session: RunSession, cells: CellSpec[], secrets: string[]): Promise<RunOutcome> {
  type Hooks = { setTitle(t: string): void; setOutput(o: string): void; finish(r?: CellResult): void };
  const hooks = new Map<string, Hooks>();
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
  await Promise.all(cells.map((c) => waitFor(() => hooks.has(c.id))));
  session.onEvent((e) => {
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
  });
  const outcome = await session.run();
  await rendered;
  return outcome;
}

async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}
