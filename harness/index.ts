/**
 * `cloudprobe`: the library API, as the CLI uses it — plan cells from case files, run them in a
 * run session (one VM each, in parallel), write the reports. The vitest integration is
 * `cloudprobe/vitest`, kept apart so that importing this entry never loads vitest (an optional
 * peer dependency).
 */

// The vocabulary and its registries.
export { DATASOURCE_KINDS, DATASOURCES, type DatasourceDef, type DatasourceKind } from './model/datasources.ts';
export { NETWORK_BACKENDS, type NetworkBackendDef, type NetworkBackendKind } from './model/networks.ts';
export { KEEP_MODES, type CellResult, type CellSpec, type KeepMode, type Plan, type SkippedCell } from './model/cell.ts';
export { CONSOLE_CHECK_NAMES, PROBE_NAMES, VERDICT_NAMES, type ConsoleCheckName, type ProbeName, type ProbeVerdict, type VerdictName, type VerdictStatus } from './model/probe.ts';

// Planning: case files → cells and skipped cells (pure apart from the image lookup).
export { planFromFiles, runCredentials, type PlanFromFilesOptions } from './plan/plan-files.ts';
export { findCaseFiles, loadCase, loadCases, parseCase, type LoadedCase } from './plan/case-file.ts';
export { planCases, type ImageInfo, type ImageLookup, type RunCredentials } from './plan/planner.ts';
export { selectCells, parseShard, defaultJobs, type Shard } from './plan/select.ts';

// Running: a session of cells (what `cloudprobe run` uses), or one cell alone.
export { RunSession, type RunOutcome, type RunSessionOptions } from './run/session.ts';
export { installInterruptHandler, type InterruptHandler } from './run/interrupt.ts';
export { runCell } from './run/run-cell.ts';
export type { RunCellFn, RunCellOptions } from './run/cell-options.ts';
export type { MatrixEvent } from './run/scheduler.ts';
export { startMetadataService, type MetadataService } from './metadata/service.ts';
export { ensureImage, type LocalImage } from './images/ensure.ts';

// Reports: results.json, junit.xml, matrix.md, matrix.html.
export { writeReports, REPORT_FILES } from './report/write.ts';
export { summarize, type RunReport } from './report/model.ts';
