import { describe, expect, it } from 'vitest';
import { MAX_TOKENS, TokenStore } from '../../harness/metadata/imds-tokens.ts';
import { REQUEST_LOG_MAX_PATH, RequestLog } from '../../harness/metadata/request-log.ts';

const entry = (path: string) => ({ time: '2026-12-04T00:00:00.000Z', method: 'GET', path, status: 200 });

describe('RequestLog in a long-lived service', () => {
  it('keeps only the newest entries, oldest first, and counts what it let go', () => {
    const log = new RequestLog(undefined, 3);
    for (const p of ['/a', '/b', '/c', '/d', '/e']) log.add(entry(p));
    expect(log.list().map((e) => e.path)).toEqual(['/c', '/d', '/e']);
    expect(log.dropped).toBe(2);
  });

  it('cuts long paths and user agents, saying how much was cut', () => {
    const log = new RequestLog();
    log.add({ ...entry(`/${'x'.repeat(15_000)}`), userAgent: 'u'.repeat(5000) });
    const [e] = log.list();
    expect(e!.path.length).toBeLessThan(REQUEST_LOG_MAX_PATH + 40);
    expect(e!.path).toMatch(/…\(13977 more characters\)$/);
    expect(e!.userAgent).toMatch(/…\(3976 more characters\)$/);
  });

  it('20 000 requests with 15 KB paths hold a few MB, not hundreds', () => {
    const log = new RequestLog();
    const path = `/latest/${'p'.repeat(15_000)}`;
    for (let k = 0; k < 20_000; k++) log.add(entry(path));
    const held = log.list();
    expect(held).toHaveLength(10_000);
    expect(held.reduce((n, e) => n + e.path.length, 0)).toBeLessThan(11 * 1024 * 1024);
  });
});

describe('TokenStore', () => {
  it('at most MAX_TOKENS live: the oldest is retired first, the newest stays valid', () => {
    const store = new TokenStore(Date.now, 3);
    const tokens = [1, 2, 3, 4].map(() => store.issue(600));
    expect(store.size).toBe(3);
    expect(store.valid(tokens[0])).toBe(false);
    expect(tokens.slice(1).every((t) => store.valid(t))).toBe(true);
    store.close();
    expect(MAX_TOKENS).toBe(1000);
  });

  it('expired tokens are swept without a new issue', () => {
    let now = 0;
    const store = new TokenStore(() => now, 10);
    store.issue(1);
    store.issue(5);
    now = 2000;
    store.prune(); // what the timer does every minute
    expect(store.size).toBe(1);
    store.close();
    expect(store.size).toBe(0);
  });
});
