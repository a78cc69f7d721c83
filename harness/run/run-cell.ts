import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { chooseAccel } from '../host/kvm-probe.ts';
import { ensureImage, type LocalImage } from '../images/ensure.ts';
import type { ImageManifest } from '../images/manifest.ts';
import { outcomeOf, type CellResult, type CellSpec, type ReadinessStage } from '../model/cell.ts';
import { smbiosIdentity, usesMetadataService } from '../model/datasources.ts';
import type { InstanceEndpoint } from '../metadata/service.ts';
import { NETWORK_MODULES, type NetworkAttachment } from '../network/index.ts';
import { startMetadataService } from '../metadata/service.ts';
import type { FailureExpectation } from '../model/expectations.ts';
import { CLOUD_INIT_FINISHED, cloudInitCrashOf, cloudInitVersionOf, LOGIN_PROMPT_LINE } from '../probes/console-evidence.ts';
import type { ProbeVerdict } from '../model/probe.ts';
import { judgeFromConsole } from '../probes/console-judge.ts';
import type { ProbeContext } from '../probes/context.ts';
import { RENDERED_CONFIG } from '../probes/network.ts';
import { runProbes } from '../probes/run.ts';
import { connectWithRetry } from '../ssh/client.ts';
import { buildTimeline } from './timeline.ts';
import { judgeConsoleHealth } from '../probes/console-health.ts';
import { BatchingTransport } from '../ssh/batch.ts';
import { Guest } from '../ssh/guest.ts';
import { runKeyPair } from '../ssh/keys.ts';
import { CleanupStack, describeFailures } from '../util/cleanup-stack.ts';
import { ArtifactWriter } from '../vm/artifacts.ts';
import { bootVm, type BootedVm } from '../vm/boot.ts';
import { guardTempDir } from '../vm/exit-guard.ts';
import { createOverlay } from '../vm/overlay.ts';
import { ConsoleWatcher } from '../vm/console.ts';
import { AbortedError, DEFAULT_STAGE_TIMEOUTS_MS, runStage, StageError, type BootStage } from '../vm/readiness.ts';
import type { BootSpec, VmSpec } from '../vm/spec.ts';
import { createWorkDir, markKept } from '../vm/workdir.ts';
import type { RunCellOptions } from './cell-options.ts';
import { prepareDatasource } from './datasource-phase.ts';

export type { RunCellFn, RunCellOptions } from './cell-options.ts';

/** One cell's state while it runs: its result so far, its artifacts and its own cleanup stack. */
interface CellRun {
  cell: CellSpec;
  opts: RunCellOptions;
  result: CellResult;
  artifacts: ArtifactWriter;
  cleanup: CleanupStack;
  log: (line: string) => void;
  workDir: string;
}

/** What the prepare phase hands to boot: the VM, how to log in, and how far readiness goes. */
interface Prepared {
  spec: VmSpec;
  guestAddress: string;
  /** Where SSH reaches the guest when no NIC forwards it (the neutron backend's relay). */
  sshEndpoint?: { host: string; port: number };
  /** The network backend's own record of metadata requests (neutron: the agent's, with the path taken). */
  backendRequests?: NetworkAttachment['metadataRequests'];
  manifest: ImageManifest;
  login: { user: string; privateKey: string; password?: string };
  until: BootStage;
  endpoint?: InstanceEndpoint;
}

/**
 * Runs one matrix cell in named phases — prepare (work dir, image, datasource, network), boot
 * (QEMU, staged readiness), probe (verdicts, guest artifacts, inspect/hold), or for a cell meant
 * to fail, boot to the kernel and judge from the console — each registering
 * its teardown on the cell's cleanup stack as it sets something up; the stack unwinds in reverse
 * at the end, whatever happened. Never throws for a guest's failure: the result says which stage
 * failed and why. Throws only for harness bugs.
 */
export async function runCell(cell: CellSpec, opts: RunCellOptions): Promise<CellResult> {
  const started = Date.now();
  const artifactsDir = join(opts.artifactsRoot, cell.id);
  await mkdir(artifactsDir, { recursive: true });
  const artifacts = new ArtifactWriter(artifactsDir, cell.secrets);
  const { secrets: _secrets, ...publicCell } = cell;
  const accel = await chooseAccel();
  const run: CellRun = {
    cell,
    opts,
    artifacts,
    cleanup: new CleanupStack(`cell ${cell.id}`),
    log: opts.log ?? (() => {}),
    workDir: '',
    result: {
      id: cell.id,
      cell: publicCell,
      outcome: 'error',
      verdicts: [],
      stage: 'process',
      accel: { use: accel.accel, reason: accel.reason },
      timings: { totalMs: 0 },
      artifactsDir,
      artifacts: artifacts.written,
    },
  };
  try {
    const prepared = await prepare(run, accel.accel);
    const failure = cell.expectations.failure;
    if (failure) {
      // A cell meant to fail is judged from the console: SSH may be impossible (no address) or
      // refuse the key (no metadata), so the boot stops at the kernel and the console is watched.
      const vm = await boot(run, { ...prepared, until: 'kernel' });
      if (vm) await judgeByConsole(run, prepared, vm, failure);
    } else {
      const vm = await boot(run, prepared);
      if (vm) await probe(run, prepared, vm);
      else await judgeCrash(run, prepared);
    }
  } catch (err) {
    // Harness-side failures (lost SSH, a datasource build error): an error result, not a throw.
    recordError(run, err, run.result.stage);
  } finally {
    // Before the work dir goes: the release the guest ran, from its console (any outcome).
    if (run.workDir) {
      const serial = await readFile(join(run.workDir, 'serial.log'), 'utf8').catch(() => '');
      const version = cloudInitVersionOf(serial);
      if (version) run.result.cloudInitVersion = version;
      const timeline = buildTimeline(run.result.timings, serial);
      if (timeline.length) run.result.timeline = timeline;
      // The console's health, for every cell whose guest booted: a panic or an OOM kill is a
      // guest failure whatever else was (or could not be) judged.
      if (run.result.timings.kernel !== undefined) {
        const health = judgeConsoleHealth(serial);
        if (health.status === 'fail' || run.result.verdicts.length) {
          if (health.status === 'fail') run.result.outcome = 'fail';
          await recordVerdicts(run, [...run.result.verdicts, health]).catch((err: Error) => run.log(`could not write verdicts.json: ${err.message}`));
        }
      }
    }
    const failures = await run.cleanup.unwind();
    for (const line of describeFailures(failures)) run.log(`cleanup: ${line}`);
    run.result.timings.totalMs = Date.now() - started;
  }
  return run.result;
}

function recordError(run: CellRun, err: unknown, stage: ReadinessStage): void {
  const { result, artifacts } = run;
  result.outcome = 'error';
  result.stage = err instanceof StageError ? err.stage : stage;
  result.error = {
    stage: result.stage,
    message: artifacts.redact(err instanceof Error ? err.message : String(err)),
    ...(err instanceof StageError ? { hint: err.hint, consoleTail: artifacts.redact(err.consoleTail) } : {}),
  };
  if (err instanceof AbortedError) result.error.hint = 'the run was interrupted';
}

/** Work dir, image and overlay, datasource, network: everything QEMU needs, nothing started yet. */
async function prepare(run: CellRun, accel: VmSpec['accel']): Promise<Prepared> {
  const { cell, opts, cleanup, log } = run;
  const keep = opts.keep ?? 'on-failure';
  run.workDir = await createWorkDir();
  const workDir = run.workDir;
  log(`work dir ${workDir}`);
  const unguard = keep === 'always' ? () => {} : guardTempDir(workDir);
  cleanup.defer('remove or keep the work dir', async () => {
    unguard();
    if (keep === 'always' || (keep === 'on-failure' && run.result.outcome !== 'pass')) {
      await markKept(workDir);
      log(`kept the VM's work dir: ${workDir}`);
      run.result.artifacts.workDir = workDir;
    } else await rm(workDir, { recursive: true, force: true });
  });

  // A case's own cloud-init package: its derived build of the image (built here once, then cached).
  const image = opts.image ?? (await ensureImage(cell.image, { log, ...(cell.cloudInitDeb ? { cloudInitDeb: cell.cloudInitDeb } : {}) }));
  const manifest = image.manifest;
  const metadataService = usesMetadataService(cell.datasource);
  // neutron's metadata agent forwards to nova whatever the datasource: a cell without the run's
  // shared service gets one of its own.
  let service = opts.metadataService;
  if (!service && (metadataService || cell.networkBackend === 'neutron')) {
    const own = await startMetadataService({});
    cleanup.defer('close the cell’s metadata service', () => own.close());
    service = own;
  }
  const network = await NETWORK_MODULES[cell.networkBackend].attach({
    instance: cell.instance,
    metadataService,
    workDir,
    cleanup,
    cellId: cell.id,
    ...(cell.topology ? { topology: cell.topology } : {}),
    ...(service ? { nova: { port: service.port, secret: service.secret } } : {}),
    artifacts: run.artifacts,
    log,
  });
  const datasource = await prepareDatasource({
    cell,
    workDir,
    guestIp: network.guestAddress,
    ...(service ? { service } : {}),
    ...(network.metadataRequests ? { requests: network.metadataRequests } : {}),
    cleanup,
    artifacts: run.artifacts,
    log,
  });
  if (datasource.endpoint) network.connectMetadata(datasource.endpoint.port);

  const spec: VmSpec = {
    name: `cloudprobe-${cell.instance.name}`,
    accel,
    memoryMiB: manifest.min_ram_mib,
    cpus: 1,
    boot: await bootSpec(image, workDir, opts.extraCmdline),
    ...(datasource.configDrive ? { configDrive: datasource.configDrive } : {}),
    nics: network.nics,
    smbios: smbiosIdentity(cell.datasource, cell.instance.uuid),
    serialLog: join(workDir, 'serial.log'),
    qmpSocket: join(workDir, 'qmp.sock'),
    ...(network.netns ? { netns: network.netns } : {}),
  };
  const key = opts.sshKey ?? runKeyPair();
  return {
    spec,
    guestAddress: network.guestAddress,
    ...(network.sshEndpoint ? { sshEndpoint: network.sshEndpoint } : {}),
    ...(network.metadataRequests ? { backendRequests: network.metadataRequests } : {}),
    manifest,
    // The image's own password (the fixture's root password) is a fallback when the key was not installed.
    login: { user: manifest.default_user, privateKey: key.privateKey, ...(manifest.default_password ? { password: manifest.default_password } : {}) },
    // Real cloud-init images end with `cloud-init status --wait`; others (the fixture, Cirros) at SSH login.
    until: manifest.capabilities.not_applicable['clean-boot'] ? 'ssh-login' : 'cloud-init',
    ...(datasource.endpoint ? { endpoint: datasource.endpoint } : {}),
  };
}

/** QEMU and staged readiness. A guest that never gets ready is an error result, not a throw. */
async function boot(run: CellRun, p: Prepared): Promise<BootedVm | undefined> {
  const { opts, cleanup, artifacts, result } = run;
  // Registered before QEMU starts, so it runs after QEMU stops: the console log of a boot that
  // failed (or was interrupted) is kept too.
  cleanup.defer('copy the console log', () => artifacts.copy('serial', 'console.log', p.spec.serialLog));
  let vm: BootedVm;
  try {
    vm = await bootVm({
      spec: p.spec,
      guestAddress: p.guestAddress,
      ...(p.sshEndpoint ? { sshEndpoint: p.sshEndpoint } : {}),
      login: p.login,
      until: p.until,
      ...(opts.timeoutsMs ? { timeoutsMs: opts.timeoutsMs } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      log: run.log,
      onStarted: (q) => {
        cleanup.defer('stop qemu', async () => {
          // The high-water mark just before QEMU goes: what one VM costs the host (sizes --jobs).
          const kib = await q.peakRssKiB();
          if (kib) result.qemuPeakRssMiB = Math.round(kib / 1024);
          await q.stop();
        });
        // An interrupt stops QEMU at once: whatever waits on the guest then ends quickly.
        const onAbort = () => void q.stop();
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        cleanup.defer('stop listening for interrupts', () => opts.signal?.removeEventListener('abort', onAbort));
        void artifacts.write('qemuArgv', 'qemu-argv.txt', `${q.argv.join(' ')}\n`);
      },
    });
  } catch (err) {
    recordError(run, err, 'process');
    return undefined;
  }
  cleanup.defer('close the boot ssh session', () => vm.session?.close());
  Object.assign(result.timings, vm.timings);
  result.stage = p.until;
  if (vm.cloudInit) await artifacts.write('cloudInitStatus', 'cloud-init-status.json', `${vm.cloudInit.raw.trim()}\n`);
  return vm;
}

/** Probes over a fresh SSH connection, the guest's own logs, then the inspect/hold hook. */
async function probe(run: CellRun, p: Prepared, vm: BootedVm): Promise<void> {
  const { cell, opts, cleanup, artifacts, result } = run;
  // A fresh connection for the probes: sshd may have restarted while cloud-init finished.
  vm.session?.close();
  const session = await connectWithRetry(vm.sshTarget, { timeoutMs: 60_000, retryAuth: true, ...(opts.signal ? { signal: opts.signal } : {}) });
  cleanup.defer('close the probes’ ssh session', () => session.close());
  const user = p.login.user;
  // The probes run at once; their commands reach the guest in rounds, one script per round.
  const batched = new BatchingTransport(session, user);
  const ctx: ProbeContext = {
    guest: new Guest(batched, user),
    ssh: { host: vm.sshTarget.host, port: vm.sshTarget.port, user },
    image: {
      notApplicable: p.manifest.capabilities.not_applicable,
      nicModes: p.manifest.capabilities.nic_modes,
      networkRenderer: p.manifest.network_renderer,
      datasourceSource: p.manifest.capabilities.datasource_source,
      resolvesFqdn: p.manifest.capabilities.resolves_fqdn,
    },
    expectations: cell.expectations,
    ...(vm.cloudInit ? { cloudInitStatus: vm.cloudInit } : {}),
    ...(p.backendRequests ? { metadataRequests: p.backendRequests } : p.endpoint ? { metadataRequests: p.endpoint.requests.bind(p.endpoint) } : {}),
  };
  result.stage = 'probes';
  const probesStarted = Date.now();
  await recordVerdicts(run, await runProbes(ctx));
  result.timings.probes = Date.now() - vm.qemu.startedAt;
  run.log(`probes done in ${((Date.now() - probesStarted) / 1000).toFixed(1)} s (${batched.stats.commands} commands in ${batched.stats.roundTrips} round trips${batched.stats.fallbacks ? `, ${batched.stats.fallbacks} bundle(s) sent again one by one` : ''})`);
  await collectGuestArtifacts(ctx, artifacts, p.manifest.network_renderer);
  result.outcome = outcomeOf(result.verdicts);
  const held = await opts.inspect?.(ctx, result.verdicts);
  if (held?.sshCommand) result.kept = { sshCommand: held.sshCommand, workDir: run.workDir };
  result.stage = 'done';
  result.timings.done = Date.now() - vm.qemu.startedAt;
}

/** The verdicts, redacted, on the result and in verdicts.json: however they were judged. */
async function recordVerdicts(run: CellRun, verdicts: ProbeVerdict[]): Promise<void> {
  run.result.verdicts = JSON.parse(run.artifacts.redact(JSON.stringify(verdicts))) as ProbeVerdict[];
  await run.artifacts.write('verdicts', 'verdicts.json', `${JSON.stringify(run.result.verdicts, null, 2)}\n`);
}

/**
 * A boot that never got to its probes may still have shown why: when the console holds a cloud-init
 * stage's traceback, that is a failure seen in the guest (clean-boot fails with it), not only a
 * stage the harness could not reach. The stage error stays recorded beside it.
 */
async function judgeCrash(run: CellRun, p: Prepared): Promise<void> {
  const crash = cloudInitCrashOf(await readFile(p.spec.serialLog, 'utf8').catch(() => ''));
  if (!crash) return;
  const first = crash.exception.split('\n')[0]!;
  const verdict = {
    probe: 'clean-boot' as const,
    status: 'fail' as const,
    summary: `cloud-init's ${crash.stage} stage failed (serial console): ${first}`,
    observed: { stage: crash.stage, exception: crash.exception },
    evidence: { 'console: cloud-init traceback': crash.traceback },
  };
  await recordVerdicts(run, [verdict]);
  run.result.outcome = 'fail';
}

const CONSOLE_HINT =
  'cloud-init never printed its final message ("Cloud-init v. … finished at …") on the serial console: the console tail shows where the boot stopped. A cell meant to fail is judged from the console alone; SSH is not tried.';
// getty's prompt usually comes before cloud-init's final message; when it does not, this long is
// waited for it after the final message.
const LOGIN_PROMPT_GRACE_MS = 30_000;

/**
 * The console judge's phase: waits (bounded by the SSH and cloud-init stage timeouts together,
 * abortable) for cloud-init's final message on the serial log, gives getty a moment to print its
 * prompt, then judges the expected failure modes from the whole console and the metadata agent's
 * log. Waiting out the bound is an error (the harness saw nothing to judge), never a fail.
 */
async function judgeByConsole(run: CellRun, p: Prepared, vm: BootedVm, expected: FailureExpectation): Promise<void> {
  const { opts, result } = run;
  const timeouts = { ...DEFAULT_STAGE_TIMEOUTS_MS, ...opts.timeoutsMs };
  const serialLog = p.spec.serialLog;
  const watcher = new ConsoleWatcher(serialLog);
  const signal = opts.signal;
  result.stage = 'cloud-init';
  const stage = { serialLog, intervalMs: 1000, hint: CONSOLE_HINT, ...(signal ? { signal } : {}) };
  const finished = await runStage('cloud-init', vm.qemu, { ...stage, timeoutMs: timeouts['ssh-banner'] + timeouts['cloud-init'] }, () => watcher.find(CLOUD_INIT_FINISHED));
  result.timings['cloud-init'] = Date.now() - vm.qemu.startedAt;
  run.log(`cloud-init finished (console): ${finished}`);
  try {
    await runStage('cloud-init', vm.qemu, { ...stage, timeoutMs: LOGIN_PROMPT_GRACE_MS }, () => watcher.find(LOGIN_PROMPT_LINE));
  } catch (err) {
    if (err instanceof AbortedError) throw err;
    run.log('no login prompt on the console: the host-name check will say so');
  }
  result.stage = 'probes';
  const requests = p.backendRequests?.() ?? p.endpoint?.requests();
  await recordVerdicts(run, judgeFromConsole({ console: await readFile(serialLog, 'utf8'), expected, ...(requests ? { metadataRequests: requests } : {}) }));
  result.timings.probes = Date.now() - vm.qemu.startedAt;
  result.outcome = outcomeOf(result.verdicts);
  result.stage = 'done';
  result.timings.done = Date.now() - vm.qemu.startedAt;
}

async function bootSpec(image: LocalImage, workDir: string, extraCmdline?: string): Promise<BootSpec> {
  const m = image.manifest;
  let disk: string | undefined;
  if (image.path) {
    disk = join(workDir, 'overlay.qcow2');
    await createOverlay(image.path, disk, m.format === 'none' ? undefined : m.format);
  }
  if (m.boot.type === 'kernel') {
    if (!image.kernel) throw new Error(`image ${image.name}: boot type kernel but no kernel file`);
    const cmdline = [image.cmdline ?? m.boot.cmdline, extraCmdline].filter(Boolean).join(' ');
    return { type: 'kernel', kernel: image.kernel, ...(image.initrd ? { initrd: image.initrd } : {}), cmdline, ...(disk ? { disk } : {}) };
  }
  if (!disk) throw new Error(`image ${image.name}: boot type bios-disk but no disk file`);
  return { type: 'bios-disk', disk };
}

/** cloud-init's logs, status and rendered network config, read over SSH (best effort). */
async function collectGuestArtifacts(ctx: ProbeContext, artifacts: ArtifactWriter, renderer: 'eni' | 'netplan' | 'none'): Promise<void> {
  const files: [string, string, string][] = [
    ['cloudInitLog', 'cloud-init.log', '/var/log/cloud-init.log'],
    ['cloudInitOutput', 'cloud-init-output.log', '/var/log/cloud-init-output.log'],
    ['cloudInitResult', 'cloud-init-result.json', '/run/cloud-init/result.json'],
  ];
  if (renderer !== 'none') files.push(['networkConfig', `network-config/${RENDERED_CONFIG[renderer].split('/').pop()}`, RENDERED_CONFIG[renderer]]);
  // All at once: through the batching transport they are one exec.
  const collect = files.map(async ([kind, rel, path]) => {
    try {
      const r = await ctx.guest.exec(['cat', path], { root: true, timeoutMs: 30_000 });
      if (r.code === 0) await artifacts.write(kind, rel, r.stdout);
    } catch {
      // the guest went away: whatever was collected stays
    }
  });
  const statusLong = (async () => {
    try {
      const r = await ctx.guest.exec(['cloud-init', 'status', '--long', '--format=json'], { root: true, timeoutMs: 30_000 });
      if (r.code !== null && r.stdout.trim()) await artifacts.write('cloudInitStatusLong', 'cloud-init-status-long.json', r.stdout);
    } catch {
      // best effort
    }
  })();
  await Promise.all([...collect, statusLong]);
}
