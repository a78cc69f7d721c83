import type { Command } from 'commander';
import { Option } from 'commander';
import { buildConfigDrive, type ConfigDriveFormat } from '../datasource/configdrive.ts';
import { loadInstanceFile } from '../model/instance.ts';
import { UserError } from '../util/errors.ts';
import { checkOutputFile } from '../util/output-path.ts';

export function registerDrive(program: Command): void {
  const drive = program.command('drive').description('OpenStack config drives (nova layout, label config-2)');
  drive
    .command('build')
    .description('build a config drive image from an instance file: iso9660 (Rock Ridge + Joliet, attach as cdrom) or 64 MiB vfat (attach as disk)')
    .requiredOption('--instance <file>', 'instance YAML file (see `cloudprobe schema instance`)')
    .addOption(new Option('--format <format>', 'image format').choices(['iso9660', 'vfat']).makeOptionMandatory())
    .requiredOption('--output <file>', 'image to write (written atomically)')
    .action(async (opts: { instance: string; format: ConfigDriveFormat; output: string }) => {
      const instance = await loadInstanceFile(opts.instance);
      await checkOutputFile('--output', opts.output);
      await buildConfigDrive(instance, { format: opts.format, output: opts.output }).catch((err: unknown) => {
        // A tool that failed on the output (disk full, a file system that refuses it): one line, no trace.
        throw new UserError(`--output ${opts.output}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      });
      process.stdout.write(`${JSON.stringify({ uuid: instance.uuid, name: instance.name, format: opts.format, output: opts.output })}\n`);
    });
}
