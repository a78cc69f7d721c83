import { rename, rm } from 'node:fs/promises';
import pLimit from 'p-limit';
import type { RunCellFn, RunCellOptions } from './cell-options.ts';
import { coordinatesOf, type CellAttempt, type CellResult, type CellSpec, type SkippedCell } from '../model/cell.ts';

/** Runs planned cells in parallel (p-limit), one runCell per cell, and stops cleanly on abort. */

export type MatrixEvent =
  | { type: 'start'; cell: CellSpec }
  | { type: 'log'; cell: CellSpec; line: string }
  | { type: 'done'; cell: CellSpec; result: CellResult }
  | { type: 'cancelled'; cell: CellSpec };

export type { RunCellFn, RunCellOptions } from './cell-options.ts';

export interface MatrixOptions {
  jobs: number;
  runCell: RunCellFn;
  cellOptions: Omit<RunCellOptions, 'signal' | 'log'>;
  /** Options that depend on the cell (e.g. --keep's hold hook). */
  perCell?: (cell: CellSpec) => Partial<RunCellOptions>;
  signal?: AbortSignal;
  onEvent?: (e: MatrixEvent) => void;
  /**
   * How often a cell that ended in `error` (the harness could not look: a lost SSH session, a stage
   * timeout, QEMU gone) is run again (default 0). A retried cell keeps its earlier tries in
   * `retriedAfter`, so a flaky host is named, not hidden; a fail is never retried.
   */
  retryErrors?: number;
}

export interface MatrixOutcome {
  results: CellResult[];
  /** Cells never started because the run was aborted. */
  cancelled: SkippedCell[];
}

/** A result for a cell whose runner threw instead of returning (a harness bug, or an abort). */
export function crashedResult(cell: CellSpec, err: unknown, artifactsRoot: string): CellResult {
  const { secrets: _secrets, ...rest } = cell;
  const message = err instanceof Error ? err.message : String(err);
  return {
    id: cell.id,
    cell: rest,
    outcome: 'error',
    verdicts: [],
    stage: 'process',
    error: { stage: 'process', message },
    accel: { use: 'tcg', reason: 'unknown: the cell did not start' },
    timings: { totalMs: 0 },
    artifactsDir: `${artifactsRoot}/${cell.id}`,
    artifacts: {},
  };
}

export async function runMatrix(cells: CellSpec[], opts: MatrixOptions): Promise<MatrixOutcome> {
  const limit = pLimit(Math.max(1, opts.jobs));
  const emit = opts.onEvent ?? (() => {});
  const results: CellResult[] = [];
  const cancelled: SkippedCell[] = [];

  await Promise.all(
    cells.map((cell) =>
      limit(async () => {
        if (opts.signal?.aborted) {
          cancelled.push({ ...coordinatesOf(cell), reason: 'run interrupted before this cell started', kind: 'cancelled' });
          emit({ type: 'cancelled', cell });
          return;
        }
        emit({ type: 'start', cell });
        const log = (line: string) => emit({ type: 'log', cell, line });
        const attempts: CellAttempt[] = [];
        let result = await runOnce(cell, opts, log);
        while (result.outcome === 'error' && attempts.length < (opts.retryErrors ?? 0) && !opts.signal?.aborted) {
          attempts.push(await setAside(result, attempts.length + 1));
          log(`error at stage ${result.error?.stage ?? result.stage} (${oneLine(result.error?.message ?? erroredProbes(result).join(', '))}): running the cell again (try ${attempts.length + 1}); the first try's artifacts are in ${attempts.at(-1)!.artifactsDir}`);
          result = await runOnce(cell, opts, log);
        }
        if (attempts.length) result = { ...result, retriedAfter: attempts };
        results.push(result);
        emit({ type: 'done', cell, result });
      }),
    ),
  );
  const order = new Map(cells.map((c, k) => [c.id, k]));
  results.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  return { results, cancelled };
}

async function runOnce(cell: CellSpec, opts: MatrixOptions, log: (line: string) => void): Promise<CellResult> {
  try {
    return await opts.runCell(cell, { ...opts.cellOptions, ...opts.perCell?.(cell), ...(opts.signal ? { signal: opts.signal } : {}), log });
  } catch (err) {
    return crashedResult(cell, err, opts.cellOptions.artifactsRoot);
  }
}

function erroredProbes(r: CellResult): string[] {
  return r.verdicts.filter((v) => v.status === 'error').map((v) => v.probe);
}

function oneLine(s: string): string {
  const first = s.split('\n')[0] ?? '';
  return first.length > 160 ? `${first.slice(0, 157)}…` : first;
}

/** Moves an errored try's artifacts beside the cell's own dir, so the next try starts empty. */
async function setAside(r: CellResult, n: number): Promise<CellAttempt> {
  const dir = `${r.artifactsDir}.attempt-${n}`;
  await rm(dir, { recursive: true, force: true });
  await rename(r.artifactsDir, dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
  return { stage: r.error?.stage ?? r.stage, ...(r.error ? { error: r.error } : {}), erroredProbes: erroredProbes(r), totalMs: r.timings.totalMs, artifactsDir: dir };
}
