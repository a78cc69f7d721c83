import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { longestFirst, previousDurations } from '../../harness/run/start-order.ts';

describe('longestFirst', () => {
  it('unknown cells first in plan order, then by duration, ties in plan order', () => {
    const cells = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id }));
    const order = longestFirst(cells, new Map([['a', 5], ['b', 90], ['d', 5], ['e', 90]]));
    expect(order.map((c) => c.id)).toEqual(['c', 'b', 'e', 'a', 'd']);
    expect(cells.map((c) => c.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});

describe('previousDurations', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloudprobe-order-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads each cell’s total, counting the tries before a retry, and ignores cells with no time', async () => {
    await writeFile(join(dir, 'results.json'), JSON.stringify({
      results: [
        { id: 'x', timings: { totalMs: 100 } },
        { id: 'y', timings: { totalMs: 50 }, retriedAfter: [{ totalMs: 70 }] },
        { id: 'z', timings: { totalMs: 0 } },
        { id: 'w' },
      ],
    }));
    expect([...(await previousDurations(dir))]).toEqual([['x', 100], ['y', 120]]);
  });

  it('is empty without a previous run, or when results.json is not one', async () => {
    expect((await previousDurations(dir)).size).toBe(0);
    await writeFile(join(dir, 'results.json'), '{"results": 3');
    expect((await previousDurations(dir)).size).toBe(0);
    await writeFile(join(dir, 'results.json'), '{"results": 3}');
    expect((await previousDurations(dir)).size).toBe(0);
  });
});
