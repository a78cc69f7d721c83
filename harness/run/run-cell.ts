import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildConfigDrive } from '../datasource/configdrive.ts';
import { chooseAccel } from '../host/kvm-probe.ts';
import { ensureImage, type LocalImage } from '../images/ensure.ts';
import type { InstanceEndpoint, MetadataService } from '../metadata/service.ts';
import { startMetadataService } from '../metadata/service.ts';
import type { ProbeContext } from '../probes/context.ts';
import { RENDERED_CONFIG } from '../probes/network.ts';
import { runProbes } from '../probes/run.ts';
import { connectWithRetry, type SshSession } from '../ssh/client.ts';
import { Guest } from '../ssh/guest.ts';
import { runKeyPair, type SshKeyPair } from '../ssh/keys.ts';
import { ArtifactWriter } from '../vm/artifacts.ts';
import { bootVm, type BootedVm } from '../vm/boot.ts';
import { registerTempDir } from '../vm/cleanup.ts';
import { planNics } from '../network/user.ts';
import { createOverlay } from '../vm/overlay.ts';
import { AbortedError, StageError, type BootStage } from '../vm/readiness.ts';
import type { BootSpec, VmSpec } from '../vm/spec.ts';
import { createWorkDir, markKept } from '../vm/workdir.ts';
import { outcomeOf, type CellResult, type CellSpec, type ReadinessStage } from '../model/cell.ts';
import { smbiosIdentity } from '../model/datasources.ts';

export interface RunCellOptions {
  /** The cell's artifacts go to `<artifactsRoot>/<cell.id>/`. */
  artifactsRoot: string;
  /** Keep the VM's work dir (overlay, config drive, serial log): default on-failure. */
  keep?: 'on-failure' | 'always' | 'never';
  /** A shared metadata service (the matrix runs one); without it, metadata cells start their own. */
  metadataService?: MetadataService;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** The key that logs in (default: this process's runKeyPair(), whose public half the planner put in the instance). */
  sshKey?: SshKeyPair;
  /** Override per-stage timeouts (e.g. short ones in never-boots tests). */
  timeoutsMs?: Partial<Record<BootStage, number>>;
  /** Extra kernel command line for kernel-boot images (tests: a guest that panics). */
  extraCmdline?: string;
  /**
   * Called after the probes while the VM still runs, with the probes' context: lets a test judge
   * other expectations (a deliberately wrong one) against the same boot. Errors propagate as a cell error.
   */
  inspect?: (ctx: ProbeContext) => Promise<void>;
}

const DRIVE_FILE = { 'configdrive-iso9660': 'config-2.iso', 'configdrive-vfat': 'config-2.vfat' } as const;

/**
 * Runs one matrix cell: image → overlay → datasource (config drive or metadata service) → QEMU →
 * staged readiness → probes → artifacts → stop and clean up. Never throws for a guest's failure:
 * the result says which stage failed and why. Throws only for harness bugs.
 */
export async function runCell(cell: CellSpec, opts: RunCellOptions): Promise<CellResult> {
  const started = Date.now();
  const log = opts.log ?? (() => {});
  const keep = opts.keep ?? 'on-failure';
  const key = opts.sshKey ?? runKeyPair();
  const artifactsDir = join(opts.artifactsRoot, cell.id);
  await mkdir(artifactsDir, { recursive: true });
  const artifacts = new ArtifactWriter(artifactsDir, cell.secrets);
  const { secrets: _secrets, ...publicCell } = cell;

  const accelChoice = await chooseAccel();
  const result: CellResult = {
    id: cell.id,
    cell: publicCell,
    outcome: 'error',
    verdicts: [],
    stage: 'process',
    accel: { use: accelChoice.accel, reason: accelChoice.reason },
    timings: { totalMs: 0 },
    artifactsDir,
    artifacts: artifacts.written,
  };

  const workDir = await createWorkDir();
  log(`work dir ${workDir}`);
  const unregisterDir = keep === 'always' ? () => {} : registerTempDir(workDir);
  let ownService: MetadataService | undefined;
  let endpoint: InstanceEndpoint | undefined;
  let service: MetadataService | undefined;
  let vm: BootedVm | undefined;
  let session: SshSession | undefined;
  const onAbort = () => void vm?.stop();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    const image = await ensureImage(cell.image, { log });
    const manifest = image.manifest;
    const isMetadata = cell.datasource.startsWith('metadata-');

    let configDrive: VmSpec['configDrive'];
    if (cell.datasource === 'configdrive-iso9660' || cell.datasource === 'configdrive-vfat') {
      const format = cell.datasource === 'configdrive-iso9660' ? 'iso9660' : 'vfat';
      const path = join(workDir, DRIVE_FILE[cell.datasource]);
      await buildConfigDrive(cell.instance, { format, output: path });
      configDrive = { format, path };
    }
    if (isMetadata) {
      service = opts.metadataService ?? (ownService = await startMetadataService({}));
    }
    // The guest address is known before the proxy exists: the NIC plan does not depend on the port.
    const guestIp = planNics(cell.instance.nics, isMetadata ? { metadataProxyPort: 1 } : {}).guestAddress;
    if (service) {
      endpoint = await service.addInstance(cell.instance, { imdsv2: cell.imdsv2, guestIp });
      log(`metadata proxy for ${cell.instance.uuid} on ${endpoint.url}`);
    }
    const { nics, guestAddress } = planNics(cell.instance.nics, endpoint ? { metadataProxyPort: endpoint.port } : {});

    const spec: VmSpec = {
      name: `cloudprobe-${cell.instance.name}`,
      accel: accelChoice.accel,
      memoryMiB: manifest.min_ram_mib,
      cpus: 1,
      boot: await bootSpec(image, workDir, opts.extraCmdline),
      ...(configDrive ? { configDrive } : {}),
      nics,
      smbios: smbiosIdentity(cell.datasource, cell.instance.uuid),
      serialLog: join(workDir, 'serial.log'),
      qmpSocket: join(workDir, 'qmp.sock'),
    };
    // Real cloud-init images end with `cloud-init status --wait`; others (the fixture, Cirros) at SSH login.
    const hasCloudInit = !manifest.capabilities.not_applicable['clean-boot'];
    // The image's own password (the fixture's root password) is a fallback when the key was not installed.
    const login = { user: manifest.default_user, privateKey: key.privateKey, ...(manifest.default_password ? { password: manifest.default_password } : {}) };
    let bootError: unknown;
    try {
      vm = await bootVm({
        spec,
        guestAddress,
        login,
        until: hasCloudInit ? 'cloud-init' : 'ssh-login',
        ...(opts.timeoutsMs ? { timeoutsMs: opts.timeoutsMs } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        log,
        onStarted: (q) => void artifacts.write('qemuArgv', 'qemu-argv.txt', `${q.argv.join(' ')}\n`),
      });
    } catch (err) {
      bootError = err;
    }
    if (bootError || !vm) {
      result.stage = bootError instanceof StageError ? bootError.stage : 'process';
      const message = bootError instanceof Error ? bootError.message : String(bootError);
      result.error = {
        stage: result.stage,
        message: artifacts.redact(message),
        ...(bootError instanceof StageError ? { hint: bootError.hint, consoleTail: artifacts.redact(bootError.consoleTail) } : {}),
      };
      if (bootError instanceof AbortedError) result.error.hint = 'the run was interrupted';
      return result;
    }
    Object.assign(result.timings, vm.timings);
    result.stage = hasCloudInit ? 'cloud-init' : 'ssh-login';
    if (vm.cloudInit) await artifacts.write('cloudInitStatus', 'cloud-init-status.json', `${vm.cloudInit.raw.trim()}\n`);

    // A fresh connection for the probes: sshd may have restarted while cloud-init finished.
    vm.session?.close();
    session = await connectWithRetry(vm.sshTarget, { timeoutMs: 60_000, retryAuth: true, ...(opts.signal ? { signal: opts.signal } : {}) });
    const ctx: ProbeContext = {
      guest: new Guest(session, login.user),
      ssh: { host: vm.sshTarget.host, port: vm.sshTarget.port, user: login.user },
      image: {
        notApplicable: manifest.capabilities.not_applicable,
        nicModes: manifest.capabilities.nic_modes,
        networkRenderer: manifest.network_renderer,
      },
      expectations: cell.expectations,
      ...(vm.cloudInit ? { cloudInitStatus: vm.cloudInit } : {}),
      ...(endpoint ? { metadataRequests: endpoint.requests.bind(endpoint) } : {}),
    };
    result.stage = 'probes';
    const probesStarted = Date.now();
    const verdicts = await runProbes(ctx);
    result.verdicts = JSON.parse(artifacts.redact(JSON.stringify(verdicts))) as typeof verdicts;
    await artifacts.write('verdicts', 'verdicts.json', `${JSON.stringify(result.verdicts, null, 2)}\n`);
    result.timings.probes = Date.now() - vm.qemu.startedAt;
    log(`probes done in ${((Date.now() - probesStarted) / 1000).toFixed(1)} s`);
    await collectGuestArtifacts(ctx, artifacts, manifest.network_renderer);
    await opts.inspect?.(ctx);
    result.stage = 'done';
    result.timings.done = Date.now() - vm.qemu.startedAt;
    result.outcome = outcomeOf(result.verdicts);
    return result;
  } catch (err) {
    // Harness-side failures after boot (lost SSH, a datasource build error): an error result, not a throw.
    const stage: ReadinessStage = result.stage;
    result.error = { stage, message: artifacts.redact(err instanceof Error ? err.message : String(err)) };
    result.outcome = 'error';
    return result;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    session?.close();
    await vm?.stop();
    if (vm) await artifacts.copy('serial', 'console.log', vm.spec.serialLog);
    if (endpoint) {
      const reqs = endpoint.requests();
      await artifacts.write('metadataRequests', 'metadata-requests.jsonl', reqs.map((r) => JSON.stringify(r)).join('\n') + (reqs.length ? '\n' : ''));
      await service?.removeInstance(endpoint.uuid).catch(() => undefined);
    }
    await ownService?.close();
    result.timings.totalMs = Date.now() - started;
    const keepDir = keep === 'always' || (keep === 'on-failure' && result.outcome !== 'pass');
    unregisterDir();
    if (keepDir) {
      await markKept(workDir);
      log(`kept the VM's work dir: ${workDir}`);
      result.artifacts.workDir = workDir;
    } else await rm(workDir, { recursive: true, force: true });
  }
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
  for (const [kind, rel, path] of files) {
    try {
      const r = await ctx.guest.exec(['cat', path], { root: true, timeoutMs: 30_000 });
      if (r.code === 0) await artifacts.write(kind, rel, r.stdout);
    } catch {
      // the guest went away: whatever was collected stays
    }
  }
  try {
    const r = await ctx.guest.exec(['cloud-init', 'status', '--long', '--format=json'], { root: true, timeoutMs: 30_000 });
    if (r.code !== null && r.stdout.trim()) await artifacts.write('cloudInitStatusLong', 'cloud-init-status-long.json', r.stdout);
  } catch {
    // best effort
  }
}
