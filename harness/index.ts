/**
 * `cloudprobe`: the library API, as the CLI uses it — plan cells from case files, run them
 * (one VM each, in parallel), write the reports. The vitest integration is `cloudprobe/vitest`,
 * kept apart so that importing this entry never loads vitest (an optional peer dependency).
 */

// Planning: case files → cells and skipped cells (pure apart from the image lookup).
export { planFromFiles, runCredentials, type PlanFromFilesOptions } from './matrix/plan-files.ts';
export { findCaseFiles, loadCase, loadCases, parseCase, type LoadedCase } from './matrix/case-file.ts';
export { planCases, type ImageInfo, type ImageLookup, type Plan, type RunCredentials, type SkippedCell } from './matrix/planner.ts';
export { selectCells, parseShard, defaultJobs, type Shard } from './matrix/select.ts';
export { DATASOURCE_KINDS, type CellResult, type CellSpec, type DatasourceKind } from './matrix/cell.ts';

// Running: one cell, or the matrix behind a job limit.
export { runCell } from './matrix/run-cell.ts';
export { runMatrix, type KeepMode, type MatrixEvent, type MatrixOptions, type MatrixOutcome, type RunCellFn, type RunCellOptions } from './matrix/runner.ts';
export { startMetadataService, type MetadataService } from './metadata/service.ts';
export { ensureImage, type LocalImage } from './images/ensure.ts';

// Reports: results.json, junit.xml, matrix.md, matrix.html.
export { writeReports, REPORT_FILES } from './report/write.ts';
export { summarize, type RunReport } from './report/model.ts';
