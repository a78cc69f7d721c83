import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { peakRssKiB } from '../../harness/host/process-memory.ts';

describe('peakRssKiB', () => {
  it('reads a live process’s high-water mark, and nothing once it has gone', async () => {
    const own = await peakRssKiB(process.pid);
    // This node process holds at least its own heap: tens of MiB.
    expect(own).toBeGreaterThan(10_000);
    const child = spawn('sleep', ['30']);
    await new Promise((r) => child.once('spawn', r));
    const pid = child.pid!;
    expect(await peakRssKiB(pid)).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(await peakRssKiB(pid)).toBeUndefined();
  });
});
