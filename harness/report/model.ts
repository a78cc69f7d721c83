import type { CellAttempt, CellResult, SkippedCell } from '../model/cell.ts';
import type { ProbeVerdict } from '../model/probe.ts';

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
  /** Cells run again after an error (their outcome is the last try's; the earlier tries are listed). */
  retried: number;
  /** Sum of the cells' own times (QEMU start → verdicts), for wall time vs sum ÷ jobs. */
  vmMsTotal: number;
}

export type CellStatus = CellResult['outcome'] | 'skipped';

export function summarize(results: CellResult[], skipped: SkippedCell[]): ReportSummary {
  return {
    cells: results.length + skipped.length,
    passed: results.filter((r) => r.outcome === 'pass').length,
    failed: results.filter((r) => r.outcome === 'fail').length,
    errors: results.filter((r) => r.outcome === 'error').length,
    skipped: skipped.length,
    retried: results.filter((r) => r.retriedAfter?.length).length,
    // The earlier tries took VM time too.
    vmMsTotal: results.reduce((s, r) => s + (r.timings.totalMs ?? 0) + (r.retriedAfter ?? []).reduce((t, a) => t + a.totalMs, 0), 0),
  };
}

/** One line per earlier try: "try 1 errored at ssh-banner: <message>" (no console tail). */
export function attemptLines(r: CellResult): string[] {
  return (r.retriedAfter ?? []).map((a: CellAttempt, k) => {
    const why = a.error ? a.error.message.split('\n')[0] : `could not run ${a.erroredProbes.join(', ')}`;
    return `try ${k + 1} errored at ${a.stage} after ${formatMs(a.totalMs)}: ${why}`;
  });
}

/** One matrix position: in its case's table, image (row) × scenario (column: datasource · network). */
export interface MatrixCell {
  id: string;
  caseName: string;
  image: string;
  scenario: string;
  status: CellStatus;
  result?: CellResult;
  skipped?: SkippedCell;
}

/** `<case>/<image>/<datasource>/<network>` → its parts, the scenario being `<datasource> · <network>`. */
export function splitId(id: string): { caseName: string; image: string; scenario: string } {
  const [caseName = id, image = '?', ds = '?', net = '?'] = id.split('/');
  return { caseName, image, scenario: `${ds} · ${net}` };
}

export function matrixCells(report: RunReport): MatrixCell[] {
  const cells: MatrixCell[] = [
    ...report.results.map((r) => ({ id: r.id, ...splitId(r.id), status: r.outcome as CellStatus, result: r })),
    ...report.skipped.map((s) => ({ id: s.id, ...splitId(s.id), status: 'skipped' as const, skipped: s })),
  ];
  return cells.sort((a, b) => a.id.localeCompare(b.id));
}

/** One table per case: its images (rows) × its scenarios (columns). */
export interface MatrixGroup {
  caseName: string;
  images: string[];
  scenarios: string[];
  cells: MatrixCell[];
  /** Every cell skipped (e.g. images not cached here): shown as one line, not a table. */
  allSkipped: boolean;
  at(image: string, scenario: string): MatrixCell | undefined;
  /** The cloud-init releases the image's cells really ran (one, unless the image changed mid-run). */
  cloudInitVersions(image: string): string[];
}

/** Cases that ran come first (a report is read top down), then the ones that were only skipped. */
export function matrixGroups(report: RunReport): MatrixGroup[] {
  const byCase = new Map<string, MatrixCell[]>();
  for (const c of matrixCells(report)) byCase.set(c.caseName, [...(byCase.get(c.caseName) ?? []), c]);
  const groups = [...byCase].map(([caseName, cells]) => ({
    caseName,
    images: [...new Set(cells.map((c) => c.image))].sort(),
    scenarios: [...new Set(cells.map((c) => c.scenario))].sort(),
    cells,
    allSkipped: cells.every((c) => c.status === 'skipped'),
    at: (image: string, scenario: string) => cells.find((c) => c.image === image && c.scenario === scenario),
    cloudInitVersions: (image: string) =>
      [...new Set(cells.filter((c) => c.image === image).flatMap((c) => (c.result?.cloudInitVersion ? [c.result.cloudInitVersion] : [])))].sort(),
  }));
  return groups.sort((a, b) => Number(a.allSkipped) - Number(b.allSkipped) || a.caseName.localeCompare(b.caseName));
}

/** Distinct skip reasons of a group, most common first, for the one-line summary. */
export function skipReasons(g: MatrixGroup): string[] {
  const counts = new Map<string, number>();
  for (const c of g.cells) if (c.skipped) counts.set(c.skipped.reason, (counts.get(c.skipped.reason) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${n}× ${r}`);
}

export function failedVerdicts(r: CellResult): ProbeVerdict[] {
  return r.verdicts.filter((v) => v.status === 'fail');
}

/** Probes that could not run (lost SSH, a timeout): the harness could not look, the guest is not blamed. */
export function erroredVerdicts(r: CellResult): ProbeVerdict[] {
  return r.verdicts.filter((v) => v.status === 'error');
}

/**
 * Whether the cell itself broke — the boot, or the harness around the probes — rather than only
 * some probes erroring: a cell whose outcome is `error` because probes could not run still booted.
 */
export function cellBroke(r: CellResult): boolean {
  return r.error !== undefined || (r.outcome === 'error' && erroredVerdicts(r).length === 0);
}

export function formatMs(ms: number): string {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s` : `${(ms / 1000).toFixed(1)}s`;
}
