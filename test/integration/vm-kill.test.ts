import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processGone, waitFor } from '../helpers/processes.ts';
import { ensureImage } from '../../harness/images/ensure.ts';

/**
 * No qemu outlives the harness: SIGKILL (no handler can run: setpriv's parent-death signal does
 * the work) and SIGTERM (the harness stops its VMs and removes its work dirs) of a harness process
 * that is mid-boot.
 */

const CHILD = fileURLToPath(new URL('./helpers/vm-child.ts', import.meta.url));
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cloudprobe-killtest-'));
  await ensureImage('fixture-busybox');
}, 600_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});


/** Starts the child harness and resolves once it has a running qemu (mid-boot). */
function startChild(): Promise<{ child: ReturnType<typeof spawn>; qemuPid: number; workDir: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, root], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const pid = /qemu pid (\d+)/.exec(out);
      const dir = /work dir (\S+)/.exec(out);
      if (pid && dir) {
        child.stdout!.off('data', onData);
        resolve({ child, qemuPid: Number(pid[1]), workDir: dir[1]!, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before starting qemu:\n${out}`)));
  });
}

describe('no qemu outlives the harness', () => {
  it('SIGKILL of the harness mid-boot kills its qemu', async () => {
    const { child, qemuPid, output } = await startChild();
    expect(processGone(qemuPid)).toBe(false);
    expect(output()).not.toContain('finished');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(await waitFor(() => processGone(qemuPid), 10_000)).toBe(true);
  });

  it('SIGTERM of the harness mid-boot stops its qemu and removes its work dir', async () => {
    const { child, qemuPid, workDir } = await startChild();
    expect(existsSync(workDir)).toBe(true);
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
    child.kill('SIGTERM');
    // The harness re-raises the signal after cleaning up: its parent sees a SIGTERM death.
    expect(await exited).toBe('SIGTERM');
    expect(processGone(qemuPid)).toBe(true);
    expect(existsSync(workDir)).toBe(false);
  });

  it('the next run removes a work dir a SIGKILLed harness left behind', async () => {
    const { child, qemuPid, workDir } = await startChild();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(await waitFor(() => processGone(qemuPid), 10_000)).toBe(true);
    expect(existsSync(workDir)).toBe(true);
    const { sweepStaleWorkDirs } = await import('../../harness/vm/workdir.ts');
    expect(await sweepStaleWorkDirs()).toContain(workDir);
    expect(existsSync(workDir)).toBe(false);
  });
});
