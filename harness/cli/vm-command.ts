import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { loadInstanceFile, resolveInstance, type Instance } from '../model/instance.ts';
import { DATASOURCE_KINDS, type CellSpec, type DatasourceKind } from '../model/cell.ts';
import { holdHook } from '../run/hold.ts';
import { interruptExitCode, interruptSignal } from '../run/interrupt.ts';
import { RunSession } from '../run/session.ts';
import { generateKeyPair } from '../ssh/keys.ts';
import { UserError } from '../util/errors.ts';

interface BootFlags {
  datasource: DatasourceKind;
  instance?: string;
  artifacts: string;
  hold?: boolean;
  keep?: boolean;
}

function datasourceArg(v: string): DatasourceKind {
  if (!(DATASOURCE_KINDS as readonly string[]).includes(v)) throw new InvalidArgumentError(`one of ${DATASOURCE_KINDS.join(', ')}`);
  return v as DatasourceKind;
}

/** `cloudprobe vm boot`: one VM by hand, through the same cell runner the matrix uses. */
export function registerVm(program: Command): void {
  const vm = program.command('vm').description('boot a single VM by hand (debugging an image or a datasource)');
  vm.command('boot')
    .description(
      'boot IMAGE with one datasource, wait for SSH (and cloud-init), print how far it got. ' +
        "A fresh ed25519 key is added to the instance's public_keys and written to the artifacts dir; with --hold the VM stays up for `ssh` until Ctrl-C.",
    )
    .argument('<image>', 'image name from images/*.yaml (e.g. fixture-busybox, debian-12-eni)')
    .option('-d, --datasource <kind>', `how the VM gets its metadata: ${DATASOURCE_KINDS.join(', ')}`, datasourceArg, 'configdrive-iso9660')
    .option('-i, --instance <file>', 'instance YAML (name, hostname, nics, user_data…); default: a minimal one with one DHCP NIC')
    .option('-a, --artifacts <dir>', 'where the console log, cloud-init logs and the key go', 'vm-artifacts')
    .option('--hold', 'keep the VM running after the probes and print the ssh command; Ctrl-C stops it')
    .option('--keep', "keep the VM's work dir (overlay, config drive) afterwards")
    .addHelpText('after', '\nExample:\n  npx cloudprobe vm boot fixture-busybox --hold\n  npx cloudprobe vm boot debian-12-eni -d metadata-openstack -i instance.yaml')
    .action(async (image: string, flags: BootFlags) => {
      const key = generateKeyPair('cloudprobe-vm-boot');
      const base: Instance = flags.instance
        ? await loadInstanceFile(resolve(flags.instance))
        : await resolveInstance(
            { name: 'cloudprobe-vm', project_id: 'cloudprobe', availability_zone: 'nova', launch_index: 0, meta: {}, public_keys: {}, vendor_data: {}, vendor_data2: {}, files: [], nics: [{ mac: '52:54:00:12:34:56', mode: 'dhcp', dns: [] }] },
            process.cwd(),
          );
      const instance: Instance = { ...base, public_keys: { ...base.public_keys, 'cloudprobe-vm-boot': key.publicKey } };
      const artifactsRoot = resolve(flags.artifacts);
      await mkdir(artifactsRoot, { recursive: true });
      const keyFile = join(artifactsRoot, 'id_ed25519');
      await writeFile(keyFile, key.privateKey, { mode: 0o600 });
      await chmod(keyFile, 0o600);
      const cell: CellSpec = {
        id: `vm-boot/${image}/${flags.datasource}/${instance.nics[0]?.mode ?? 'dhcp'}`,
        caseName: 'vm-boot',
        image,
        datasource: flags.datasource,
        datasourceLabel: flags.datasource,
        networkBackend: 'user',
        imdsv2: 'off',
        network: instance.nics[0]?.mode ?? 'dhcp',
        instance,
        // Nothing is expected of a hand-booted VM: the point is reaching SSH (every probe says n/a).
        expectations: {},
        secrets: instance.admin_pass ? [instance.admin_pass] : [],
      };
      // The same run session as `cloudprobe run`: Ctrl-C ends the hold, then the cell collects its
      // console and metadata logs and tears down as any cell does.
      const signal = interruptSignal();
      const session: RunSession = new RunSession({
        plan: { cells: [cell], skipped: [] },
        jobs: 1,
        artifactsRoot,
        sshKey: key,
        ...(signal ? { signal } : {}),
        onEvent: (e) => (e.type === 'log' ? process.stderr.write(`${e.line}\n`) : undefined),
        cellOptions: () => {
          const hold = flags.hold ? holdHook({ keep: 'always', signal: session.signal, say: (l) => process.stdout.write(`${l}\n`), keyFile: async () => keyFile, label: 'VM is up; log in with' }) : undefined;
          return { keep: flags.keep ? 'always' : 'on-failure', ...(hold ? { inspect: hold } : {}) };
        },
      });
      const { report } = await session.run();
      const result = report.results[0];
      if (!result) {
        process.stdout.write('interrupted before the VM started\n');
        process.exitCode = interruptExitCode();
        return;
      }
      for (const v of result.verdicts) process.stdout.write(`${v.status.padEnd(4)} ${v.probe.padEnd(18)} ${v.summary}\n`);
      if (result.error) {
        process.stdout.write(`error at stage ${result.error.stage}: ${result.error.message}\n`);
        if (result.error.hint) process.stdout.write(`hint: ${result.error.hint}\n`);
        if (result.error.consoleTail) process.stdout.write(`console tail:\n${result.error.consoleTail}\n`);
      }
      process.stdout.write(`outcome ${result.outcome} (${(result.timings.totalMs / 1000).toFixed(1)} s, ${result.accel.use}); artifacts in ${result.artifactsDir}\n`);
      process.stdout.write(`console log and metadata requests: ${result.artifactsDir}\n`);
      if (session.interrupted) process.exitCode = interruptExitCode();
      else if (result.outcome !== 'pass') process.exitCode = 1;
      if (result.outcome === 'error' && /unknown image/.test(result.error?.message ?? '')) throw new UserError(result.error!.message);
    });
}
