import { Command, CommanderError } from 'commander';
import { installInterruptHandler } from '../run/interrupt.ts';
import { UserError } from '../util/errors.ts';
import { packageVersion } from '../util/package-root.ts';
import { registerCertify } from './certify-command.ts';
import { registerDoctor } from './doctor-command.ts';
import { registerDrive } from './drive-command.ts';
import { registerMetadata } from './metadata-command.ts';
import { registerSchemaCommand } from './schema-command.ts';
import { registerImages } from './images-command.ts';
import { registerRun } from './run-command.ts';
import { registerVm } from './vm-command.ts';

export function buildProgram(): Command {
  const program = new Command('cloudprobe')
    .description('Boot cloud images under QEMU, feed them OpenStack metadata (config drive or metadata service) and prove over SSH what cloud-init did.')
    .version(packageVersion())
    .showHelpAfterError()
    .exitOverride();
  registerCertify(program);
  registerDoctor(program);
  registerDrive(program);
  registerMetadata(program);
  registerSchemaCommand(program);
  registerImages(program);
  registerRun(program);
  registerVm(program);
  return program;
}

/** Runs the CLI; returns the process exit code. User errors print one clear message, no stack. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  // The one interrupt handler of the process: commands and the run session listen to its signal.
  const interrupt = installInterruptHandler();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof UserError) {
      process.stderr.write(`cloudprobe: ${err.message}\n`);
      return 2;
    }
    throw err;
  } finally {
    interrupt.dispose();
  }
}
