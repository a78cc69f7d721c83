import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CellResult, CellSpec, KeepMode, Plan } from '../model/cell.ts';
import { VERDICT_NAMES } from '../model/probe.ts';
import { attemptLines, cellBroke } from '../report/model.ts';
import { planFromFiles, type PlanFromFilesOptions } from '../plan/plan-files.ts';
import { defaultJobs } from '../plan/select.ts';
import { redactText, usableSecrets } from '../util/redact.ts';
import type { RunCellFn, RunCellOptions } from '../run/cell-options.ts';
import { RunSession } from '../run/session.ts';

/**
 * The case matrix as vitest tests, for cases written in TypeScript or read from case files:
 *
 *   await ensureImage('debian-12-eni'); // a cell whose image is not here is planned as skipped
 *   const plan = await planCaseFiles(['cases/seed-article.yaml'], { images: ['debian-12-eni'] });
 *   describeMatrix(plan, { jobs: 2, reportDir: 'reports/e2e' });
 *
 * gives one `describe` per cell (`describe.for`), in it a `boot` test and one test per probe:
 * pass → passes, fail → fails with the verdict's summary and evidence, error (the probe could not
 * run) → fails with a message that says the harness could not look, n/a → skipped. Cells boot
 * in parallel (at most `jobs` at once) as soon as the file is collected; tests await their cell.
 */

export { planFromFiles as planCaseFiles, type PlanFromFilesOptions };

export interface MatrixSuiteOptions {
  jobs?: number;
  /** Where cell artifacts go (default `<reportDir>/artifacts`, else `reports/vitest/artifacts`). */
  artifactsRoot?: string;
  /** Also write results.json, junit.xml, matrix.md and matrix.html here after the last cell. */
  reportDir?: string;
  keep?: KeepMode;
  /** Per-test timeout: a test waits for its cell's whole boot, possibly queued behind others. */
  timeoutMs?: number;
  /** Stops the run (e.g. an AbortSignal of the test file's own); running cells keep their logs. */
  signal?: AbortSignal;
  /** Defaults to harness/run/run-cell.ts `runCell`. */
  runCell?: RunCellFn;
  /** Suite title (default "cloudprobe matrix"). */
  title?: string;
  /** Extra runCell options per cell, e.g. an `inspect` hook judging more against the same boot. */
  cellOptions?: (cell: CellSpec) => Partial<RunCellOptions>;
  /** Runs again a cell that ended in error, this often (default 1, as `cloudprobe run`); the boot test names the earlier tries. */
  retryErrors?: number;
}

function evidenceText(cellResult: CellResult, probe: string): string {
  const v = cellResult.verdicts.find((x) => x.probe === probe);
  if (!v) return '';
  const lines = [`${probe}: ${v.summary}`];
  if (v.expected !== undefined) lines.push(`expected: ${JSON.stringify(v.expected)}`);
  if (v.observed !== undefined) lines.push(`observed: ${JSON.stringify(v.observed)}`);
  for (const [k, out] of Object.entries(v.evidence ?? {})) lines.push(`--- ${k}\n${out}`);
  lines.push(`artifacts: ${cellResult.artifactsDir}`);
  return lines.join('\n');
}

export function describeMatrix(planOrCells: Plan | CellSpec[], opts: MatrixSuiteOptions = {}): void {
  const plan: Plan = Array.isArray(planOrCells) ? { cells: planOrCells, skipped: [] } : planOrCells;
  const timeout = opts.timeoutMs ?? 60 * 60_000;
  const reportDir = opts.reportDir ? resolve(opts.reportDir) : undefined;
  // The same run session `cloudprobe run` uses: one metadata service, one scheduler, one report.
  // Cells start on the first test, all at once behind the scheduler, while tests report them in order.
  const session = new RunSession({
    plan,
    jobs: opts.jobs ?? defaultJobs(),
    artifactsRoot: resolve(opts.artifactsRoot ?? join(reportDir ?? 'reports/vitest', 'artifacts')),
    ...(reportDir ? { reportDir } : {}),
    keep: opts.keep ?? 'never',
    version: 'vitest',
    ...(opts.runCell ? { runCell: opts.runCell } : {}),
    ...(opts.cellOptions ? { cellOptions: opts.cellOptions } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.retryErrors !== undefined ? { retryErrors: opts.retryErrors } : {}),
  });
  const resultOf = async (cell: CellSpec): Promise<CellResult> => {
    const r = await session.result(cell.id);
    if (!r) throw new Error(`${cell.id}: the run was interrupted before this cell started`);
    return r;
  };

  describe(opts.title ?? 'cloudprobe matrix', () => {
    afterAll(async () => {
      // Reports are written (and the shared service closed) once every cell has settled.
      if (plan.cells.length > 0) await session.run();
    }, timeout);

    describe.for(plan.cells.map((c) => [c.id, c] as const))('%s', ([, cell]) => {
      // Failure messages quote evidence and expectations: scrub this run's secrets from them.
      const scrub = (text: string) => redactText(text, usableSecrets(cell.secrets));
      it('boot', { timeout }, async (ctx) => {
        const r = await resultOf(cell);
        // A cell that needed another try is named in the test output too, not only in the reports.
        const tries = attemptLines(r).map(scrub);
        for (const line of tries) await ctx.annotate(`run again after an error: ${line}`, 'warning');
        // Probes that could not run fail their own tests; the boot itself went fine.
        if (cellBroke(r)) {
          const e = r.error;
          expect.fail(scrub(`stopped at ${e?.stage ?? r.stage}: ${e?.message ?? 'unknown error'}${e?.hint ? `\nhint: ${e.hint}` : ''}${e?.consoleTail ? `\n--- console tail\n${e.consoleTail}` : ''}${tries.length ? `\nearlier tries: ${tries.join('; ')}` : ''}\nartifacts: ${r.artifactsDir}`));
        }
      });
      for (const probe of VERDICT_NAMES) {
        it(probe, { timeout }, async (ctx) => {
          const r = await resultOf(cell);
          const v = r.verdicts.find((x) => x.probe === probe);
          if (!v) return ctx.skip(r.outcome === 'error' ? 'the cell never reached its probes' : 'no verdict for this probe');
          if (v.status === 'n/a') return ctx.skip(v.summary);
          if (v.status === 'fail') expect.fail(scrub(evidenceText(r, probe)));
          if (v.status === 'error') expect.fail(scrub(`error (the harness could not look): ${evidenceText(r, probe)}`));
        });
      }
    });

    describe.for(plan.skipped.map((s) => [s.id, s] as const))('%s', ([, s]) => {
      it.skip(`skipped: ${s.reason}`, () => {});
    });
  });
}
