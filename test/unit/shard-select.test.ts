import { describe, expect, it } from 'vitest';
import { defaultJobs, idMatcher, MEMORY_PER_JOB, parseJobs, parseShard, selectCells, shardOf } from '../../harness/plan/select.ts';

const ids = (n: number) =>
  Array.from({ length: n }, (_, k) => ({ id: `case-${k % 3}/img-${k % 2}/ds-${k}/net`, image: `img-${k % 2}` }));

describe('shards', () => {
  it.for([1, 2, 3, 5, 8])('%i shards cover a 23-cell matrix exactly once', (n) => {
    const cells = ids(23);
    const seen = new Map<string, number>();
    for (let i = 1; i <= n; i++) for (const c of shardOf(cells, { index: i, count: n })) seen.set(c.id, (seen.get(c.id) ?? 0) + 1);
    expect([...seen.keys()].sort()).toEqual(cells.map((c) => c.id).sort());
    expect([...seen.values()].every((v) => v === 1)).toBe(true);
  });

  it('does not depend on the input order, and balances sizes', () => {
    const cells = ids(11);
    const a = shardOf(cells, { index: 2, count: 3 }).map((c) => c.id);
    const b = shardOf([...cells].reverse(), { index: 2, count: 3 }).map((c) => c.id);
    expect(a).toEqual(b);
    const sizes = [1, 2, 3].map((i) => shardOf(cells, { index: i, count: 3 }).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('parses i/n and refuses nonsense', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    for (const bad of ['0/2', '3/2', '1/0', 'x', '1-2', '']) expect(() => parseShard(bad)).toThrow(/--shard/);
  });
});

describe('selection', () => {
  const cells = [
    { id: 'seed/deb-eni/configdrive-iso9660/static', image: 'deb-eni' },
    { id: 'seed/deb-eni/metadata-openstack/dhcp', image: 'deb-eni' },
    { id: 'seed/deb-netplan/configdrive-vfat/dhcp', image: 'deb-netplan' },
    { id: 'multi/deb-eni/configdrive-iso9660/multi-nic-dhcp', image: 'deb-eni' },
  ];
  it('filters by image (repeatable or comma separated)', () => {
    expect(selectCells(cells, { images: ['deb-netplan'] }).map((c) => c.id)).toEqual(['seed/deb-netplan/configdrive-vfat/dhcp']);
    expect(selectCells(cells, { images: ['deb-netplan,deb-eni'] })).toHaveLength(4);
  });
  it('filters ids by substring or * pattern', () => {
    expect(selectCells(cells, { filter: ['iso9660'] })).toHaveLength(2);
    expect(selectCells(cells, { filter: ['seed/*/dhcp'] }).map((c) => c.image)).toEqual(['deb-eni', 'deb-netplan']);
    expect(idMatcher([])('anything')).toBe(true);
    expect(idMatcher(['a.b'])('axb')).toBe(false);
  });
});

describe('jobs', () => {
  it('is about one per core, capped by free memory ÷ 1.5 GiB, at least one', () => {
    expect(defaultJobs(2, 24 * 1024 ** 3)).toBe(2);
    expect(defaultJobs(16, 4 * 1024 ** 3)).toBe(2);
    expect(defaultJobs(8, MEMORY_PER_JOB * 3.9)).toBe(3);
    expect(defaultJobs(4, 100)).toBe(1);
  });
  it('parses --jobs', () => {
    expect(parseJobs('3')).toBe(3);
    expect(parseJobs('auto')).toBe(defaultJobs());
    for (const bad of ['0', '-1', '1.5', 'two']) expect(() => parseJobs(bad)).toThrow(/--jobs/);
  });
});
