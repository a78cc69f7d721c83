import type { CellResult } from '../matrix/cell.ts';
import type { SkippedCell } from '../matrix/planner.ts';
import type { ProbeVerdict } from '../probes/verdict.ts';

/** Everything a report is rendered from; results.json is exactly this, secrets redacted. */
export interface RunReport {
  tool: 'cloudprobe';
  version: string;
  startedAt: string;
  finishedAt: string;
  wallMs: number;
  jobs: number;
  shard?: { index: number; count: number };
  /** True when the run was stopped (Ctrl-C, SIGTERM) before every cell finished. */
  interrupted: boolean;
  results: CellResult[];
  skipped: SkippedCell[];
  summary: ReportSummary;
}

export interface ReportSummary {
  cells: number;
  passed: number;
  failed: number;
  errors: number;
  skipped: number;
  /** Sum of the cells' own times (QEMU start → verdicts), for wall time vs sum ÷ jobs. */
  vmMsTotal: number;
}

export type CellStatus = CellResult['outcome'] | 'skipped';

/** One matrix position: image × scenario (case / datasource / network). */
export interface MatrixCell {
  id: string;
  image: string;
  scenario: string;
  status: CellStatus;
  result?: CellResult;
  skipped?: SkippedCell;
}

export function summarize(results: CellResult[], skipped: SkippedCell[]): ReportSummary {
  return {
    cells: results.length + skipped.length,
    passed: results.filter((r) => r.outcome === 'pass').length,
    failed: results.filter((r) => r.outcome === 'fail').length,
    errors: results.filter((r) => r.outcome === 'error').length,
    skipped: skipped.length,
    vmMsTotal: results.reduce((s, r) => s + (r.timings.totalMs ?? 0), 0),
  };
}

/** `<case>/<image>/<datasource>/<network>` → image and the scenario `<case> · <datasource> · <network>`. */
export function splitId(id: string): { image: string; scenario: string } {
  const [c = id, image = '?', ds = '?', net = '?'] = id.split('/');
  return { image, scenario: `${c} · ${ds} · ${net}` };
}

export function matrixCells(report: RunReport): MatrixCell[] {
  const cells: MatrixCell[] = [
    ...report.results.map((r) => ({ id: r.id, ...splitId(r.id), status: r.outcome as CellStatus, result: r })),
    ...report.skipped.map((s) => ({ id: s.id, ...splitId(s.id), status: 'skipped' as const, skipped: s })),
  ];
  return cells.sort((a, b) => a.id.localeCompare(b.id));
}

/** Rows (images) and columns (scenarios) of the matrix, sorted. */
export function matrixAxes(cells: MatrixCell[]): { images: string[]; scenarios: string[] } {
  return {
    images: [...new Set(cells.map((c) => c.image))].sort(),
    scenarios: [...new Set(cells.map((c) => c.scenario))].sort(),
  };
}

export function failedVerdicts(r: CellResult): ProbeVerdict[] {
  return r.verdicts.filter((v) => v.status === 'fail');
}

export function formatMs(ms: number): string {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s` : `${(ms / 1000).toFixed(1)}s`;
}
