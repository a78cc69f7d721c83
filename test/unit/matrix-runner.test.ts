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
});
