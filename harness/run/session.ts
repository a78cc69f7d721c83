import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CellResult, CellSpec, KeepMode, Plan, SkippedCell } from '../model/cell.ts';
import { usesMetadataService } from '../model/datasources.ts';
import { startMetadataService, type MetadataService } from '../metadata/service.ts';
import type { Shard } from '../plan/select.ts';
import { summarize, type RunReport } from '../report/model.ts';
import { usableSecrets } from '../util/redact.ts';
import { writeReports, type REPORT_FILES } from '../report/write.ts';
import { runKeyPair, type SshKeyPair } from '../ssh/keys.ts';
import { CleanupStack, describeFailures } from '../util/cleanup-stack.ts';
import type { RunCellFn, RunCellOptions } from './cell-options.ts';
import { holdHook } from './hold.ts';
import { checkNetworkBackends } from './network-availability.ts';
import { crashedResult, runMatrix, type MatrixEvent } from './scheduler.ts';
import { longestFirst, previousDurations } from './start-order.ts';

export interface RunSessionOptions {
  plan: Plan;
  jobs: number;
  /** Cell artifacts go to `<artifactsRoot>/<cell id>/`. */
  artifactsRoot: string;
  /** Write results.json, junit.xml, matrix.md and matrix.html here when the run ends. */
  reportDir?: string;
  /** Hold VMs after their probes until interrupted (default never). */
  keep?: KeepMode;
  /** The entry point's interrupt (harness/run/interrupt.ts): aborts the session. */
  signal?: AbortSignal;
  shard?: Shard;
  /** cloudprobe's version, for the report. */
  version?: string;
  /** The login key (default this process's run key, which the planner put in every instance). */
  sshKey?: SshKeyPair;
  /** Defaults to harness/run/run-cell.ts `runCell`. */
  runCell?: RunCellFn;
  /** Extra runCell options per cell (e.g. an `inspect` hook judging more against the same boot). */
  cellOptions?: (cell: CellSpec) => Partial<RunCellOptions>;
  onEvent?: (e: MatrixEvent) => void;
  /** Runs again a cell that ended in error, this often (default 1; harness/run/scheduler.ts). */
  retryErrors?: number;
  /** Lines for the user (a held VM's ssh command). */
  say?: (line: string) => void;
  /**
   * Start the cells longest first, by what the previous run in reportDir measured (default true;
   * harness/run/start-order.ts). The reports keep plan order either way.
   */
  longestFirst?: boolean;
}

/**
 * An error (the harness could not look) is retried once by default, as kola does: on a loaded
 * host a stage timeout is more often the host than the image. The retry is named in the reports.
 */
export const DEFAULT_RETRY_ERRORS = 1;

export interface RunOutcome {
  report: RunReport;
  /** Paths of the written reports, when a reportDir was given. */
  files?: Record<keyof typeof REPORT_FILES, string>;
}

/**
 * One run of planned cells, used alike by `cloudprobe run`, `cloudprobe vm boot` and the vitest
 * API. The session owns what the cells share — the abort controller (fed by the entry point's
 * interrupt), the metadata service, the key file of held VMs, the scheduler and the RunReport —
 * and a LIFO cleanup stack for them; each cell owns its own stack (harness/run/run-cell.ts).
 */
export class RunSession {
  readonly secrets: string[];
  private readonly controller = new AbortController();
  private readonly cleanup = new CleanupStack('run session');
  private readonly pending = new Map<string, { promise: Promise<CellResult | undefined>; settle: (r: CellResult | undefined) => void }>();
  private outcome: Promise<RunOutcome> | undefined;
  private readonly listeners: ((e: MatrixEvent) => void)[] = [];

  constructor(private readonly opts: RunSessionOptions) {
    this.secrets = usableSecrets(opts.plan.cells.flatMap((c) => c.secrets));
    for (const cell of opts.plan.cells) {
      let settle!: (r: CellResult | undefined) => void;
      const promise = new Promise<CellResult | undefined>((resolve) => (settle = resolve));
      this.pending.set(cell.id, { promise, settle });
    }
    if (opts.onEvent) this.listeners.push(opts.onEvent);
    if (opts.signal) {
      const signal = opts.signal;
      const forward = () => this.controller.abort(signal.reason);
      if (signal.aborted) forward();
      else {
        signal.addEventListener('abort', forward, { once: true });
        this.cleanup.defer('stop listening for interrupts', () => signal.removeEventListener('abort', forward));
      }
    }
  }

  /** Follows the run: cell start, log lines, results, cancellations. */
  onEvent(listener: (e: MatrixEvent) => void): void {
    this.listeners.push(listener);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get interrupted(): boolean {
    return this.controller.signal.aborted;
  }

  /** Stops the run: running cells are stopped (their logs kept), queued cells are cancelled. */
  abort(reason: unknown = new Error('run aborted')): void {
    this.controller.abort(reason);
  }

  /** A cell's result once it has run; undefined when the run was interrupted before it started. */
  result(cellId: string): Promise<CellResult | undefined> {
    void this.run();
    const p = this.pending.get(cellId);
    if (!p) throw new Error(`no cell ${cellId} in this run`);
    return p.promise;
  }

  /** Runs every cell (once, however often it is called) and returns the report. */
  run(): Promise<RunOutcome> {
    this.outcome ??= this.execute();
    return this.outcome;
  }

  private async execute(): Promise<RunOutcome> {
    const opts = this.opts;
    let plan = opts.plan;
    const startedAt = new Date();
    try {
      plan = await checkNetworkBackends(plan, { log: opts.say ?? (() => {}) });
      const runCell = plan.cells.length ? (opts.runCell ?? (await defaultRunCell())) : undefined;
      const metadataService = await this.sharedMetadataService(plan.cells);
      const keep = opts.keep ?? 'never';
      const emit = (e: MatrixEvent) => {
        if (e.type === 'done') this.pending.get(e.cell.id)?.settle(e.result);
        if (e.type === 'cancelled') this.pending.get(e.cell.id)?.settle(undefined);
        for (const listener of this.listeners) listener(e);
      };
      const startOrder = opts.reportDir && opts.longestFirst !== false ? longestFirst(plan.cells, await previousDurations(opts.reportDir)) : plan.cells;
      const outcome = runCell
        ? await runMatrix(startOrder, {
            jobs: opts.jobs,
            runCell,
            retryErrors: opts.retryErrors ?? DEFAULT_RETRY_ERRORS,
            cellOptions: {
              artifactsRoot: opts.artifactsRoot,
              keep,
              ...(metadataService ? { metadataService } : {}),
              ...(opts.sshKey ? { sshKey: opts.sshKey } : {}),
            },
            perCell: (cell) => {
              const inspect = holdHook({ keep, signal: this.controller.signal, say: opts.say ?? (() => {}), keyFile: () => this.keyFile(), label: `kept ${cell.id}` });
              return { ...(inspect ? { inspect } : {}), ...opts.cellOptions?.(cell) };
            },
            signal: this.controller.signal,
            onEvent: emit,
          })
        : { results: [], cancelled: [] as SkippedCell[] };
      const finishedAt = new Date();
      const planOrder = new Map(plan.cells.map((c, k) => [c.id, k]));
      outcome.results.sort((a, b) => (planOrder.get(a.id) ?? 0) - (planOrder.get(b.id) ?? 0));
      const skipped = [...plan.skipped, ...outcome.cancelled];
      const report: RunReport = {
        tool: 'cloudprobe',
        version: opts.version ?? 'unknown',
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        wallMs: finishedAt.getTime() - startedAt.getTime(),
        jobs: opts.jobs,
        ...(opts.shard ? { shard: opts.shard } : {}),
        interrupted: this.controller.signal.aborted,
        results: outcome.results,
        skipped,
        summary: summarize(outcome.results, skipped),
      };
      const files = opts.reportDir ? await writeReports(report, opts.reportDir, this.secrets) : undefined;
      return { report, ...(files ? { files } : {}) };
    } catch (err) {
      // A harness bug outside any cell: every cell still waiting gets an error result saying so.
      for (const cell of plan.cells) this.pending.get(cell.id)?.settle(crashedResult(cell, err, opts.artifactsRoot));
      throw err;
    } finally {
      for (const cell of opts.plan.cells) this.pending.get(cell.id)?.settle(undefined);
      const failures = await this.cleanup.unwind();
      for (const line of describeFailures(failures)) (opts.say ?? (() => {}))(`cleanup: ${line}`);
    }
  }

  /** One metadata service for the whole run, when a cell reads one; runCell adds each cell's instance. */
  private async sharedMetadataService(cells: CellSpec[]): Promise<MetadataService | undefined> {
    // neutron's metadata agent forwards to it whatever the cell's datasource.
    if (!cells.some((c) => usesMetadataService(c.datasource) || c.networkBackend === 'neutron')) return undefined;
    const service = await startMetadataService();
    this.cleanup.defer('close the metadata service', () => service.close());
    return service;
  }

  private keyFilePath: Promise<string> | undefined;
  /** The login key on disk for a held VM's ssh command, in a private temp dir removed at the end. */
  private keyFile(): Promise<string> {
    this.keyFilePath ??= (async () => {
      const key = this.opts.sshKey ?? runKeyPair();
      const dir = await mkdtemp(join(tmpdir(), 'cloudprobe-keep-'));
      this.cleanup.defer('remove the held VMs’ key', () => rm(dir, { recursive: true, force: true }));
      const file = join(dir, 'id_ed25519');
      await writeFile(file, key.privateKey, { mode: 0o600 });
      return file;
    })();
    return this.keyFilePath;
  }
}

async function defaultRunCell(): Promise<RunCellFn> {
  // run-cell.ts is the VM layer's entry point; imported lazily so planning and `--list` never load QEMU code.
  const mod: { runCell: RunCellFn } = await import('./run-cell.ts');
  return mod.runCell;
}
