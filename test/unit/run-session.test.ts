import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CellResult, CellSpec, DatasourceKind } from '../../harness/model/cell.ts';
import type { RunCellFn } from '../../harness/run/cell-options.ts';
import { RunSession } from '../../harness/run/session.ts';
import { CleanupStack, describeFailures } from '../../harness/util/cleanup-stack.ts';

function cell(id: string, datasource: DatasourceKind = 'configdrive-iso9660'): CellSpec {
  return {
    id,
    caseName: 'c',
    image: 'img',
    datasource,
    datasourceLabel: datasource,
    networkBackend: 'user',
    imdsv2: 'off',
    network: 'dhcp',
    instance: { uuid: `uuid-${id}`, name: 'n', hostname: 'n', project_id: 'p', availability_zone: 'nova', launch_index: 0, meta: {}, public_keys: {}, vendor_data: {}, vendor_data2: {}, files: [], nics: [] },
    expectations: {},
    secrets: ['Sup3rSecretPw'],
  };
}

function result(c: CellSpec, outcome: CellResult['outcome'], summary = 'ok'): CellResult {
  const { secrets: _s, ...rest } = c;
  return { id: c.id, cell: rest, outcome, verdicts: [{ probe: 'hostname', status: outcome === 'pass' ? 'pass' : 'fail', summary }], stage: 'done', accel: { use: 'tcg', reason: 't' }, timings: { totalMs: 1 }, artifactsDir: '/a', artifacts: {} };
}

describe('CleanupStack', () => {
  it('runs undos newest first, carries on past a failing one, reports it, and runs each once', async () => {
    const ran: string[] = [];
    const stack = new CleanupStack('t');
    stack.defer('first', () => void ran.push('first'));
    stack.defer('broken', () => {
      throw new Error('boom');
    });
    const cancel = stack.defer('handed over', () => void ran.push('handed over'));
    stack.defer('last', async () => void ran.push('last'));
    cancel();
    expect(stack.pending()).toEqual(['last', 'broken', 'first']);
    const [a, b] = [stack.unwind(), stack.unwind()];
    const failures = await a;
    expect(await b).toBe(failures);
    expect(ran).toEqual(['last', 'first']);
    expect(describeFailures(failures)).toEqual(['broken: boom']);
    expect(() => stack.defer('late', () => {})).toThrow(/while unwinding/);
  });
});

describe('RunSession', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloudprobe-session-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs every cell once, hands results to waiters, writes redacted reports', async () => {
    const calls: string[] = [];
    const runCell: RunCellFn = async (c) => {
      calls.push(c.id);
      return c.id === 'c/img/b/dhcp' ? result(c, 'fail', 'wrong name, password Sup3rSecretPw') : result(c, 'pass');
    };
    const session = new RunSession({ plan: { cells: [cell('c/img/a/dhcp'), cell('c/img/b/dhcp')], skipped: [] }, jobs: 2, artifactsRoot: join(dir, 'artifacts'), reportDir: dir, runCell, version: 't' });
    const b = session.result('c/img/b/dhcp');
    const [first, second] = await Promise.all([session.run(), session.run()]);
    expect(first).toBe(second);
    expect(calls.sort()).toEqual(['c/img/a/dhcp', 'c/img/b/dhcp']);
    expect((await b)?.outcome).toBe('fail');
    expect(first.report.summary).toMatchObject({ cells: 2, passed: 1, failed: 1 });
    const json = await readFile(join(dir, 'results.json'), 'utf8');
    expect(json).toContain('wrong name');
    expect(json).not.toContain('Sup3rSecretPw');
  });

  it('starts one metadata service for the run, shares it with every metadata cell and closes it at the end', async () => {
    const seen = new Set<unknown>();
    const runCell: RunCellFn = async (c, opts) => {
      seen.add(opts.metadataService);
      return result(c, 'pass');
    };
    const session = new RunSession({ plan: { cells: [cell('c/i/x/1', 'metadata-openstack'), cell('c/i/x/2', 'metadata-ec2')], skipped: [] }, jobs: 2, artifactsRoot: dir, runCell });
    await session.run();
    expect(seen.size).toBe(1);
    const service = [...seen][0] as { serviceUrl: string } | undefined;
    expect(service?.serviceUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    // Closed: the port no longer answers.
    await expect(fetch(`${service!.serviceUrl}/`)).rejects.toThrow();
  });

  it('an interrupt stops the running cell and cancels the queued ones, which their waiters learn', async () => {
    const interrupt = new AbortController();
    const runCell: RunCellFn = async (c, opts) => {
      interrupt.abort();
      expect(opts.signal?.aborted).toBe(true);
      return result(c, 'error');
    };
    const session = new RunSession({ plan: { cells: [cell('c/i/a/1'), cell('c/i/b/1')], skipped: [] }, jobs: 1, artifactsRoot: dir, runCell, signal: interrupt.signal });
    const { report } = await session.run();
    expect(session.interrupted).toBe(true);
    expect(report.interrupted).toBe(true);
    expect(report.skipped.map((s) => [s.id, s.kind, s.datasourceLabel])).toEqual([['c/i/b/1', 'cancelled', 'configdrive-iso9660']]);
    expect(await session.result('c/i/b/1')).toBeUndefined();
  });

  it('starts cells longest first by the previous run in the same report dir, and reports them in plan order', async () => {
    const cells = ['a', 'b', 'c', 'd'].map((k) => cell(`c/img/${k}/dhcp`));
    const durations: Record<string, number> = { 'c/img/a/dhcp': 10, 'c/img/b/dhcp': 300, 'c/img/c/dhcp': 50, 'c/img/d/dhcp': 20 };
    const started: string[] = [];
    const runCell: RunCellFn = async (c) => {
      started.push(c.id);
      return { ...result(c, 'pass'), timings: { totalMs: durations[c.id]! } };
    };
    const plan = { cells, skipped: [] };
    // First run: no history, plan order.
    await new RunSession({ plan, jobs: 1, artifactsRoot: dir, reportDir: dir, runCell }).run();
    expect(started).toEqual(cells.map((c) => c.id));
    // Second run, with one cell the first run did not have: the unknown one first, then longest first.
    started.length = 0;
    const withNew = { cells: [...cells, cell('c/img/e/dhcp')], skipped: [] };
    durations['c/img/e/dhcp'] = 5;
    const { report } = await new RunSession({ plan: withNew, jobs: 1, artifactsRoot: dir, reportDir: dir, runCell }).run();
    expect(started).toEqual(['c/img/e/dhcp', 'c/img/b/dhcp', 'c/img/c/dhcp', 'c/img/d/dhcp', 'c/img/a/dhcp']);
    expect(report.results.map((r) => r.id)).toEqual(withNew.cells.map((c) => c.id));
    // Opting out keeps plan order.
    started.length = 0;
    await new RunSession({ plan, jobs: 1, artifactsRoot: dir, reportDir: dir, runCell, longestFirst: false }).run();
    expect(started).toEqual(cells.map((c) => c.id));
  });
});
