import { availableParallelism, freemem } from 'node:os';
import { UserError } from '../util/errors.ts';

/** Narrowing a plan: --image, --filter and --shard. Works on anything with an `id` and `image`. */

export interface Shard {
  index: number;
  count: number;
}

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index < 1 || index > count) throw new UserError(`--shard ${text}: expected i/n with 1 ≤ i ≤ n, e.g. 1/2`);
  return { index, count };
}

/**
 * The i-th of n shards: ids sorted, then dealt round-robin. Deterministic from the ids alone, so
 * runners that each take one shard of the same plan cover every cell exactly once.
 */
export function shardOf<T extends { id: string }>(items: T[], shard: Shard): T[] {
  const sorted = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return sorted.filter((_, k) => k % shard.count === shard.index - 1);
}

/** `*` matches any run of characters; a pattern without `*` matches anywhere in the id. */
export function idMatcher(patterns: string[]): (id: string) => boolean {
  const res = patterns
    .flatMap((p) => p.split(','))
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => {
      const body = p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
      return new RegExp(p.includes('*') ? `^${body}$` : body);
    });
  return (id) => res.length === 0 || res.some((r) => r.test(id));
}

export function selectCells<T extends { id: string; image: string }>(items: T[], opts: { images?: string[]; filter?: string[]; shard?: Shard }): T[] {
  const images = opts.images?.flatMap((i) => i.split(',')).filter((i) => i !== '');
  const match = idMatcher(opts.filter ?? []);
  let out = items.filter((c) => (!images || images.length === 0 || images.includes(c.image)) && match(c.id));
  if (opts.shard) out = shardOf(out, opts.shard);
  return out;
}

const GIB = 1024 ** 3;
/** Memory one TCG guest needs on the host: 1 GiB guest RAM, QEMU, TCG cache (docs/facts.md §6). */
export const MEMORY_PER_JOB = 1.5 * GIB;

/** Default parallelism: about one VM per core, and no more than free memory ÷ 1.5 GiB. */
export function defaultJobs(cores = availableParallelism(), freeBytes = freemem()): number {
  return Math.max(1, Math.min(cores, Math.floor(freeBytes / MEMORY_PER_JOB)));
}

/** `--jobs N`, or `--jobs auto` for defaultJobs() (the default when the flag is not given). */
export function parseJobs(text: string): number {
  if (text === 'auto') return defaultJobs();
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--jobs ${text}: expected a whole number ≥ 1 or auto`);
  return n;
}
