import pLimit from 'p-limit';
import type { RunCellFn, RunCellOptions } from './cell-options.ts';
import { coordinatesOf, type CellResult, type CellSpec, type SkippedCell } from '../model/cell.ts';

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
        let result: CellResult;
        try {
          result = await opts.runCell(cell, {
            ...opts.cellOptions,
            ...opts.perCell?.(cell),
            ...(opts.signal ? { signal: opts.signal } : {}),
            log: (line) => emit({ type: 'log', cell, line }),
          });
        } catch (err) {
          result = crashedResult(cell, err, opts.cellOptions.artifactsRoot);
        }
        results.push(result);
        emit({ type: 'done', cell, result });
      }),
    ),
  );
  const order = new Map(cells.map((c, k) => [c.id, k]));
  results.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  return { results, cancelled };
}
