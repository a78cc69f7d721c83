import type { Command } from 'commander';
import { formatDoctor, runDoctor } from '../host/doctor.ts';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check QEMU, the accelerator (a real probe boot), the other host tools and free cache space')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const report = await runDoctor();
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatDoctor(report)}\n`);
      if (!report.ok) process.exitCode = 1;
    });
}
