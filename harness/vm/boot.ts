import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { readSshBanner } from '../ssh/banner.ts';
import { SshSession, type ExecResult, type SshTarget } from '../ssh/client.ts';
import { asRoot } from '../util/shell.ts';
import { ConsoleWatcher } from './console.ts';
import { freeLoopbackPort } from './ports.ts';
import { QemuProcess } from './qemu-process.ts';
import { QmpClient } from './qmp.ts';
import { DEFAULT_STAGE_TIMEOUTS_MS, runStage, STAGE_HINTS, type BootStage } from './readiness.ts';
import type { VmSpec } from './spec.ts';

/** What `cloud-init status --wait --format=json` said, with its exit code (0 done, 1 error, 2 degraded). */
export interface CloudInitStatus {
  exitCode: number | null;
  raw: string;
  json?: Record<string, unknown>;
}

export interface BootOptions {
  /** The VM; the SSH NIC's `sshForward.hostPort` is filled in here (0 or absent: a free port). */
  spec: VmSpec;
  /** Index of the NIC whose slirp network carries SSH (default 0). */
  sshNic?: number;
  /** Address sshd listens on inside the guest (10.0.2.15 DHCP, the static address, 169.254.169.15…). */
  guestAddress: string;
  /**
   * Where SSH reaches the guest when no NIC forwards it (a network backend's own loopback relay,
   * e.g. into a neutron namespace). Without it the `sshNic`'s slirp hostfwd is used.
   */
  sshEndpoint?: { host: string; port: number };
  /** Login for the ssh-login stage (usually the image's default user with the run's key). */
  login: { user: string; privateKey?: string; password?: string };
  /** Stop after this stage (default 'cloud-init'; images without cloud-init stop at 'ssh-login'). */
  until?: BootStage;
  /** Proof the kernel runs (default KERNEL_PATTERN). */
  kernelPattern?: RegExp;
  timeoutsMs?: Partial<Record<BootStage, number>>;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Called once QEMU runs (e.g. to record its argv). */
  onStarted?: (qemu: QemuProcess) => void;
}

/** A VM that reached its readiness target; `stop()` is always safe to call, and idempotent. */
export interface BootedVm {
  qemu: QemuProcess;
  spec: VmSpec;
  sshPort: number;
  sshTarget: SshTarget;
  banner?: string;
  session?: SshSession;
  cloudInit?: CloudInitStatus;
  /** Milliseconds from QEMU start to each stage reached. */
  timings: Partial<Record<BootStage, number>>;
  stop(): Promise<void>;
}

// One implementation of quoting (harness/util/shell.ts); re-exported for the cell runner.
export { asRoot };

/**
 * Signs that the kernel (not just firmware or GRUB) is running: its banner, printk timestamps,
 * systemd, or the fixture's init (whose `quiet` command line hides the kernel's own lines).
 */
export const KERNEL_PATTERN = /Linux version \d|^\[\s*\d+\.\d+\] |systemd\[1\]|Welcome to |cloudprobe-fixture: init started/m;

const PORT_CLASH = /Could not set up host forwarding rule|Address already in use/i;

/** QMP answering proves QEMU parsed its options and opened its devices; false when QEMU exited first. */
async function qmpAnswers(qemu: QemuProcess, spec: VmSpec): Promise<boolean> {
  while (qemu.alive) {
    try {
      (await QmpClient.connect(spec.qmpSocket, 2000)).close();
      return true;
    } catch {
      await Promise.race([sleep(100), qemu.exited]);
    }
  }
  return false;
}

/** Starts QEMU, retrying with a fresh SSH port if another process took ours in the meantime. */
async function startQemu(spec: VmSpec, sshNic: number, log: (l: string) => void, endpoint?: { host: string; port: number }): Promise<{ qemu: QemuProcess; port: number }> {
  if (endpoint) {
    await rm(spec.qmpSocket, { force: true });
    const qemu = await QemuProcess.start(spec);
    log(`qemu pid ${qemu.pid}${spec.netns ? ` in namespace ${spec.netns}` : ''}, ssh via ${endpoint.host}:${endpoint.port}, serial ${spec.serialLog}`);
    await qmpAnswers(qemu, spec);
    return { qemu, port: endpoint.port };
  }
  for (let attempt = 1; ; attempt++) {
    const nic = spec.nics[sshNic];
    if (!nic?.sshForward) throw new Error(`NIC ${sshNic} has no sshForward`);
    const port = nic.sshForward.hostPort || (await freeLoopbackPort());
    nic.sshForward.hostPort = port;
    await rm(spec.qmpSocket, { force: true });
    const qemu = await QemuProcess.start(spec);
    log(`qemu pid ${qemu.pid}, ssh on 127.0.0.1:${port}, serial ${spec.serialLog}`);
    if (await qmpAnswers(qemu, spec)) return { qemu, port };
    if (attempt < 4 && PORT_CLASH.test(qemu.stderr)) {
      log(`port ${port} was taken, retrying with another`);
      nic.sshForward.hostPort = 0;
      continue;
    }
    return { qemu, port };
  }
}

/**
 * Boots a VM through the staged readiness checks: process → kernel → ssh-banner → ssh-login →
 * cloud-init. On failure the VM is stopped and a StageError names the stage, with a hint and the
 * console tail.
 */
export async function bootVm(opts: BootOptions): Promise<BootedVm> {
  const log = opts.log ?? (() => {});
  const until = opts.until ?? 'cloud-init';
  const timeouts = { ...DEFAULT_STAGE_TIMEOUTS_MS, ...opts.timeoutsMs };
  const sshNic = opts.sshNic ?? 0;
  const serialLog = opts.spec.serialLog;
  const timings: Partial<Record<BootStage, number>> = {};

  const { qemu, port } = await startQemu(opts.spec, sshNic, log, opts.sshEndpoint);
  opts.onStarted?.(qemu);
  const reached = (stage: BootStage) => {
    timings[stage] = Date.now() - qemu.startedAt;
    log(`stage ${stage} reached after ${(timings[stage]! / 1000).toFixed(1)} s`);
  };
  const sshHost = opts.sshEndpoint?.host ?? '127.0.0.1';
  const sshTarget: SshTarget = { host: sshHost, port, ...opts.login };
  const vm: BootedVm = {
    qemu,
    spec: opts.spec,
    sshPort: port,
    sshTarget,
    timings,
    stop: async () => {
      vm.session?.close();
      await qemu.stop();
    },
  };
  const stageOpts = (stage: BootStage, intervalMs = 500) => ({
    timeoutMs: timeouts[stage],
    intervalMs,
    serialLog,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });

  try {
    await runStage('process', qemu, stageOpts('process'), async () => (qemu.alive ? true : undefined));
    reached('process');
    if (until === 'process') return vm;

    const watcher = new ConsoleWatcher(serialLog);
    const kernelPattern = opts.kernelPattern ?? KERNEL_PATTERN;
    await runStage('kernel', qemu, stageOpts('kernel'), () => watcher.find(kernelPattern));
    reached('kernel');
    if (until === 'kernel') return vm;

    vm.banner = await runStage('ssh-banner', qemu, stageOpts('ssh-banner', 1000), () => readSshBanner(sshHost, port, 5000));
    reached('ssh-banner');
    log(`ssh banner: ${vm.banner}`);
    if (until === 'ssh-banner') return vm;

    vm.session = await runStage('ssh-login', qemu, stageOpts('ssh-login', 2000), () => SshSession.connect(sshTarget, { readyTimeoutMs: 20_000 }));
    reached('ssh-login');
    if (until === 'ssh-login') return vm;

    vm.cloudInit = await runStage('cloud-init', qemu, stageOpts('cloud-init', 2000), async () => {
      // sshd may restart under us (cloud-init's ssh_pwauth does): reconnect and wait again.
      if (!vm.session) vm.session = await SshSession.connect(sshTarget, { readyTimeoutMs: 20_000 });
      let r: ExecResult;
      try {
        r = await vm.session.exec(asRoot(opts.login.user, 'cloud-init status --wait --format=json'), { timeoutMs: timeouts['cloud-init'] });
      } catch (err) {
        vm.session.close();
        delete vm.session;
        throw err;
      }
      if (r.code === null) {
        vm.session.close();
        delete vm.session;
        throw new Error(`cloud-init status ended without an exit code (connection lost?): ${r.stderr.trim()}`);
      }
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(r.stdout) as Record<string, unknown>;
      } catch {
        // an old cloud-init without --format: keep the raw text
      }
      return { exitCode: r.code, raw: r.stdout + r.stderr, ...(json ? { json } : {}) };
    });
    reached('cloud-init');
    return vm;
  } catch (err) {
    await vm.stop();
    throw err;
  }
}

export { STAGE_HINTS };
