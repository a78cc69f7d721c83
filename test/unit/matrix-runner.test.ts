import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CellResult, CellSpec } from '../../harness/model/cell.ts';
import { runMatrix, type RunCellFn } from '../../harness/run/scheduler.ts';

// The scheduler alone, with a stand-in cell runner: real VMs are the e2e tier's business.
function cell(id: string): CellSpec {
  return {
    id,
    caseName: 'c',
    image: 'img',
    datasource: 'configdrive-iso9660',
    datasourceLabel: 'configdrive-iso9660',
    networkBackend: 'user',
    imdsv2: 'off',
    network: 'dhcp',
    instance: { uuid: id, name: 'n', hostname: 'n', project_id: 'p', availability_zone: 'nova', launch_index: 0, meta: {}, public_keys: {}, vendor_data: {}, vendor_data2: {}, files: [], nics: [] },
    expectations: {},
    secrets: ['pw'],
  };
}

function result(c: CellSpec, outcome: CellResult['outcome']): CellResult {
  const { secrets: _s, ...rest } = c;
  return { id: c.id, cell: rest, outcome, verdicts: [], stage: 'done', accel: { use: 'tcg', reason: 't' }, timings: { totalMs: 1 }, artifactsDir: '/a', artifacts: {} };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('runMatrix', () => {
  it('never runs more than `jobs` cells at once and returns results in plan order', async () => {
    let running = 0;
    let peak = 0;
    const runCell: RunCellFn = async (c) => {
      running++;
      peak = Math.max(peak, running);
      await tick();
      running--;
      return result(c, 'pass');
    };
    const cells = ['a', 'b', 'c', 'd', 'e'].map(cell);
    const out = await runMatrix(cells, { jobs: 2, runCell, cellOptions: { artifactsRoot: '/tmp/x' } });
    expect(peak).toBe(2);
    expect(out.results.map((r) => r.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('turns a runner that throws into an error result for that cell only', async () => {
    const runCell: RunCellFn = async (c) => {
      if (c.id === 'b') throw new Error('qemu exploded');
      return result(c, 'pass');
    };
    const out = await runMatrix(['a', 'b'].map(cell), { jobs: 1, runCell, cellOptions: { artifactsRoot: '/tmp/x' } });
    expect(out.results.map((r) => r.outcome)).toEqual(['pass', 'error']);
    expect(out.results[1]!.error?.message).toBe('qemu exploded');
    expect(JSON.stringify(out.results[1])).not.toContain('"secrets"');
  });

  it('on abort, running cells get the signal and queued cells are never started', async () => {
    const controller = new AbortController();
    const started: string[] = [];
    const runCell: RunCellFn = async (c, opts) => {
      started.push(c.id);
      opts.log?.('booting');
      if (c.id === 'a') controller.abort();
      expect(opts.signal?.aborted).toBe(true);
      return result(c, 'error');
    };
    const events: string[] = [];
    const out = await runMatrix(['a', 'b', 'c'].map(cell), {
      jobs: 1,
      runCell,
      cellOptions: { artifactsRoot: '/tmp/x' },
      signal: controller.signal,
      onEvent: (e) => events.push(`${e.type}:${e.cell.id}`),
    });
    expect(started).toEqual(['a']);
    expect(out.cancelled.map((s) => [s.id, s.kind])).toEqual([
      ['b', 'cancelled'],
      ['c', 'cancelled'],
    ]);
    expect(events).toEqual(['start:a', 'log:a', 'done:a', 'cancelled:b', 'cancelled:c']);
  });

  describe('retryErrors: a cell that ended in error is run again, and the earlier try is kept', () => {
    async function withRoot<T>(fn: (root: string) => Promise<T>): Promise<T> {
      const root = await mkdtemp(join(tmpdir(), 'cloudprobe-retry-'));
      try {
        return await fn(root);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    }
    /** A runner whose cell `a` errors on its first `errors` tries, writing one artifact per try. */
    function flaky(errors: number, tries: Record<string, number>): RunCellFn {
      return async (c, opts) => {
        const n = (tries[c.id] = (tries[c.id] ?? 0) + 1);
        const dir = join(opts.artifactsRoot, c.id);
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, 'console.log'), `try ${n}\n`);
        const r = { ...result(c, c.id === 'a' && n <= errors ? 'error' : 'pass'), artifactsDir: dir, timings: { totalMs: 10 * n } };
        if (r.outcome === 'error') return { ...r, stage: 'ssh-banner' as const, error: { stage: 'ssh-banner' as const, message: `no banner (try ${n})\nmore` } };
        return r;
      };
    }

    it('a pass on the second try: the result says so, the first try\'s artifacts are set aside', async () => {
      await withRoot(async (root) => {
        const tries: Record<string, number> = {};
        const logs: string[] = [];
        const out = await runMatrix(['a', 'b'].map(cell), { jobs: 1, runCell: flaky(1, tries), cellOptions: { artifactsRoot: root }, retryErrors: 1, onEvent: (e) => e.type === 'log' && logs.push(e.line) });
        expect(tries).toEqual({ a: 2, b: 1 });
        const a = out.results[0]!;
        expect(a.outcome).toBe('pass');
        expect(a.retriedAfter).toEqual([{ stage: 'ssh-banner', error: { stage: 'ssh-banner', message: 'no banner (try 1)\nmore' }, erroredProbes: [], totalMs: 10, artifactsDir: join(root, 'a.attempt-1') }]);
        expect(out.results[1]!.retriedAfter).toBeUndefined();
        expect((await readdir(root)).sort()).toEqual(['a', 'a.attempt-1', 'b']);
        expect(logs[0]).toMatch(/^error at stage ssh-banner \(no banner \(try 1\)\): running the cell again \(try 2\)/);
      });
    });

    it('stops after retryErrors tries: the last error is the outcome, every earlier one listed', async () => {
      await withRoot(async (root) => {
        const tries: Record<string, number> = {};
        const out = await runMatrix([cell('a')], { jobs: 1, runCell: flaky(5, tries), cellOptions: { artifactsRoot: root }, retryErrors: 2 });
        expect(tries.a).toBe(3);
        expect(out.results[0]!.outcome).toBe('error');
        expect(out.results[0]!.error?.message).toBe('no banner (try 3)\nmore');
        expect(out.results[0]!.retriedAfter?.map((t) => t.artifactsDir)).toEqual([join(root, 'a.attempt-1'), join(root, 'a.attempt-2')]);
      });
    });

    it('never retries by default, never a fail, never after an abort', async () => {
      const calls: string[] = [];
      const runCell: RunCellFn = async (c) => {
        calls.push(c.id);
        return result(c, c.id === 'f' ? 'fail' : 'error');
      };
      await runMatrix([cell('e')], { jobs: 1, runCell, cellOptions: { artifactsRoot: '/nonexistent' } });
      await runMatrix([cell('f')], { jobs: 1, runCell, cellOptions: { artifactsRoot: '/nonexistent' }, retryErrors: 1 });
      const controller = new AbortController();
      controller.abort();
      const aborting: RunCellFn = async (c) => {
        calls.push(`${c.id}!`);
        return result(c, 'error');
      };
      // Aborted before start: cancelled, not run, not retried.
      const out = await runMatrix([cell('g')], { jobs: 1, runCell: aborting, cellOptions: { artifactsRoot: '/nonexistent' }, retryErrors: 1, signal: controller.signal });
      expect(out.cancelled).toHaveLength(1);
      expect(calls).toEqual(['e', 'f']);
    });
  });
});
