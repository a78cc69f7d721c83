import { join, resolve } from 'node:path';
import pLimit from 'p-limit';
import { afterAll, describe, expect, it } from 'vitest';
import { startMetadataService, type MetadataService } from '../metadata/service.ts';
import { PROBE_NAMES } from '../model/probe.ts';
import { cellBroke, summarize, type RunReport } from '../report/model.ts';
import { redactText, usableSecrets } from '../report/redact.ts';
import { writeReports } from '../report/write.ts';
import type { CellResult, CellSpec, Plan } from '../model/cell.ts';
import { planFromFiles, type PlanFromFilesOptions } from '../plan/plan-files.ts';
import { crashedResult, type KeepMode, type RunCellFn, type RunCellOptions } from '../run/scheduler.ts';
import { defaultJobs } from '../plan/select.ts';

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
  /** Defaults to harness/matrix/run-cell.ts `runCell`. */
  runCell?: RunCellFn;
  /** Suite title (default "cloudprobe matrix"). */
  title?: string;
  /** Extra runCell options per cell, e.g. an `inspect` hook judging more against the same boot. */
  cellOptions?: (cell: CellSpec) => Partial<RunCellOptions>;
}

async function defaultRunCell(): Promise<RunCellFn> {
  const mod: { runCell: RunCellFn } = await import('../run/run-cell.ts');
  return mod.runCell;
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
  const jobs = opts.jobs ?? defaultJobs();
  const reportDir = opts.reportDir ? resolve(opts.reportDir) : undefined;
  const artifactsRoot = resolve(opts.artifactsRoot ?? join(reportDir ?? 'reports/vitest', 'artifacts'));
  const timeout = opts.timeoutMs ?? 60 * 60_000;
  const results = new Map<string, Promise<CellResult>>();
  const startedAt = new Date();
  let metadata: Promise<MetadataService | undefined> | undefined;

  // Started on first use (the first test), all at once behind p-limit: cells boot in parallel
  // while tests report them in order.
  function startAll(): void {
    if (results.size > 0) return;
    const limit = pLimit(Math.max(1, jobs));
    const runCell = opts.runCell ? Promise.resolve(opts.runCell) : defaultRunCell();
    metadata = plan.cells.some((c) => c.datasource.startsWith('metadata-')) ? startMetadataService() : Promise.resolve(undefined);
    for (const cell of plan.cells) {
      results.set(
        cell.id,
        limit(async () => {
          try {
            const [run, md] = await Promise.all([runCell, metadata]);
            return await run(cell, { artifactsRoot, keep: opts.keep ?? 'never', ...(md ? { metadataService: md } : {}), ...opts.cellOptions?.(cell) });
          } catch (err) {
            return crashedResult(cell, err, artifactsRoot);
          }
        }),
      );
    }
  }
  const resultOf = (cell: CellSpec) => {
    startAll();
    return results.get(cell.id)!;
  };

  describe(opts.title ?? 'cloudprobe matrix', () => {
    afterAll(async () => {
      const settled = await Promise.all(results.values());
      await (await metadata)?.close();
      if (reportDir && settled.length > 0) {
        const finishedAt = new Date();
        const report: RunReport = {
          tool: 'cloudprobe',
          version: 'vitest',
          startedAt: startedAt.toISOString(),
          finishedAt: finishedAt.toISOString(),
          wallMs: finishedAt.getTime() - startedAt.getTime(),
          jobs,
          interrupted: false,
          results: settled,
          skipped: plan.skipped,
          summary: summarize(settled, plan.skipped),
        };
        await writeReports(report, reportDir, usableSecrets(plan.cells.flatMap((c) => c.secrets)));
      }
    }, timeout);

    describe.for(plan.cells.map((c) => [c.id, c] as const))('%s', ([, cell]) => {
      // Failure messages quote evidence and expectations: scrub this run's secrets from them.
      const scrub = (text: string) => redactText(text, usableSecrets(cell.secrets));
      it('boot', { timeout }, async () => {
        const r = await resultOf(cell);
        // Probes that could not run fail their own tests; the boot itself went fine.
        if (cellBroke(r)) {
          const e = r.error;
          expect.fail(scrub(`stopped at ${e?.stage ?? r.stage}: ${e?.message ?? 'unknown error'}${e?.hint ? `\nhint: ${e.hint}` : ''}${e?.consoleTail ? `\n--- console tail\n${e.consoleTail}` : ''}\nartifacts: ${r.artifactsDir}`));
        }
      });
      for (const probe of PROBE_NAMES) {
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
