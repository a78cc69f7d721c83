import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { probeKvmCached } from '../../harness/host/kvm-probe.ts';

// A qemu that does not exist fails the probe at once, so these tests cost no probe time limit;
// what they check is when the record is trusted and when the probe runs again.
const QEMU = '/nonexistent/qemu-system-x86_64';
let dir: string;
let cacheFile: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-accel-cache-'));
  cacheFile = join(dir, 'sub', 'accel-probe.json');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('KVM probe record', () => {
  it('probes once, then answers from the record for this host boot', async () => {
    const first = await probeKvmCached({ cacheFile, qemu: QEMU });
    expect(first.probedAt).toBeUndefined();
    expect(first.kvm.ok).toBe(false);
    const record = JSON.parse(await readFile(cacheFile, 'utf8'));
    expect(record.key).toContain(QEMU);
    const second = await probeKvmCached({ cacheFile, qemu: QEMU });
    expect(second.probedAt).toBe(record.probedAt);
    expect(second.kvm).toEqual(first.kvm);
  });

  it('probes again when asked fresh, or when the record is for another boot or binary', async () => {
    await probeKvmCached({ cacheFile, qemu: QEMU });
    expect((await probeKvmCached({ cacheFile, qemu: QEMU, fresh: true })).probedAt).toBeUndefined();
    const record = JSON.parse(await readFile(cacheFile, 'utf8'));
    await writeFile(cacheFile, JSON.stringify({ ...record, key: `other-boot|${record.key}`, kvm: { accel: 'kvm', ok: true, detail: 'stale' } }));
    const again = await probeKvmCached({ cacheFile, qemu: QEMU });
    expect(again.probedAt).toBeUndefined();
    expect(again.kvm.ok).toBe(false);
    await writeFile(cacheFile, '{ not json');
    expect((await probeKvmCached({ cacheFile, qemu: QEMU })).probedAt).toBeUndefined();
  });
});
