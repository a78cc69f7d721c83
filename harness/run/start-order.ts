import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CellResult, CellSpec } from '../model/cell.ts';
import { REPORT_FILES } from '../report/write.ts';

/**
 * The order cells start in: longest first, from how long each took in the previous run written to
 * the same report dir (its results.json). With p-limit's fixed job slots this is the classic
 * longest-processing-time rule: a long cell started last would leave the other slots idle while it
 * finishes alone. Cells the previous run did not have (or that were skipped there) start first —
 * nothing is known about them, and guessing short is what leaves a slot idle at the end. The
 * reports still list cells in plan order; only the start order changes.
 */

/** Cell id → total ms of its last try in the previous run (earlier tries after an error included). */
export type CellDurations = ReadonlyMap<string, number>;

export function longestFirst<T extends Pick<CellSpec, 'id'>>(cells: readonly T[], previous: CellDurations): T[] {
  const index = new Map(cells.map((c, k) => [c.id, k]));
  const weight = (c: T) => previous.get(c.id) ?? Number.POSITIVE_INFINITY;
  return [...cells].sort((a, b) => weight(b) - weight(a) || index.get(a.id)! - index.get(b.id)!);
}

/** What the previous run in `reportDir` measured; empty when there is none or it cannot be read. */
export async function previousDurations(reportDir: string): Promise<CellDurations> {
  let report: { results?: Partial<CellResult>[] };
  try {
    report = JSON.parse(await readFile(join(reportDir, REPORT_FILES.json), 'utf8')) as typeof report;
  } catch {
    // No previous run, or a results.json from something else: plan order it is.
    return new Map();
  }
  const durations = new Map<string, number>();
  for (const r of Array.isArray(report.results) ? report.results : []) {
    const ms = r.timings?.totalMs;
    if (typeof r.id === 'string' && typeof ms === 'number' && Number.isFinite(ms) && ms > 0) {
      const earlier = (r.retriedAfter ?? []).reduce((sum, a) => sum + (a.totalMs ?? 0), 0);
      durations.set(r.id, ms + earlier);
    }
  }
  return durations;
}
