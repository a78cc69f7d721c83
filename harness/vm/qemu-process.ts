import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { peakRssKiB } from '../host/process-memory.ts';
import { requireTool } from '../host/tools.ts';
import { guardProcess } from './exit-guard.ts';
import { buildQemuArgs } from './qemu-args.ts';
import { QmpClient } from './qmp.ts';
import type { VmSpec } from './spec.ts';

export interface QemuExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One running QEMU. It is started under `setpriv --pdeathsig KILL`, which execs QEMU with a
 * parent-death signal: if the harness dies, even by SIGKILL, the kernel kills QEMU too.
 */
export class QemuProcess {
  readonly startedAt = Date.now();
  private stderrText = '';
  private exitInfo?: QemuExit;
  readonly exited: Promise<QemuExit>;
  private unregister: () => void;

  private constructor(
    readonly spec: VmSpec,
    readonly argv: string[],
    private readonly child: ChildProcess,
  ) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (this.stderrText = (this.stderrText + d).slice(-16_384)));
    child.stdout?.resume();
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        this.unregister();
        resolve(this.exitInfo);
      });
    });
    this.unregister = guardProcess(child.pid!);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  get exit(): QemuExit | undefined {
    return this.exitInfo;
  }

  /** What QEMU wrote to stderr (its own errors: bad option, port in use, missing file). */
  get stderr(): string {
    return this.stderrText;
  }

  static async start(spec: VmSpec): Promise<QemuProcess> {
    const [setpriv, qemu] = await Promise.all([requireTool('setpriv'), requireTool('qemu-system-x86_64')]);
    const args = buildQemuArgs(spec);
    // `ip netns exec` execs (no fork) after entering the namespace: the pid stays QEMU's and the
    // parent-death signal still ties it to the harness.
    const netns = spec.netns ? ['ip', 'netns', 'exec', spec.netns] : [];
    const argv = [...netns, setpriv, '--pdeathsig', 'KILL', '--', qemu, ...args];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return new QemuProcess(spec, argv, child);
  }

  /** Resolves true if QEMU exits within `ms`. */
  async waitExit(ms: number): Promise<boolean> {
    if (!this.alive) return true;
    const timer = sleep(ms).then(() => false);
    return Promise.race([this.exited.then(() => true), timer]);
  }

  /** QEMU's peak resident memory so far, in KiB (undefined once it has exited). */
  peakRssKiB(): Promise<number | undefined> {
    return this.alive ? peakRssKiB(this.pid) : Promise.resolve(undefined);
  }

  /** QMP `quit`, then SIGTERM, then SIGKILL; each step waits a little for QEMU to go. */
  async stop(graceMs = 3000): Promise<QemuExit> {
    if (!this.alive) return this.exitInfo!;
    try {
      const qmp = await QmpClient.connect(this.spec.qmpSocket, 1000);
      try {
        await qmp.execute('quit').catch(() => undefined);
      } finally {
        qmp.close();
      }
    } catch {
      // no QMP (not up yet, or wedged): fall through to signals
    }
    if (await this.waitExit(graceMs)) return this.exitInfo!;
    this.child.kill('SIGTERM');
    if (await this.waitExit(graceMs)) return this.exitInfo!;
    this.child.kill('SIGKILL');
    return this.exited;
  }
}
