import type { Command } from 'commander';
import { formatDoctor, runDoctor } from '../host/doctor.ts';
import { neutronAvailability } from '../network/neutron/availability.ts';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check QEMU, the accelerator (a real probe boot), the other host tools, free cache space and which network backends can run')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const [report, neutron] = await Promise.all([runDoctor(), neutronAvailability()]);
      // The user backend (slirp) needs only QEMU; the neutron backend is optional: it never makes doctor fail.
      const networks = { user: { available: true, reasons: [] as string[] }, neutron };
      if (opts.json) process.stdout.write(`${JSON.stringify({ ...report, networks }, null, 2)}\n`);
      else {
        const line = neutron.available ? 'available (namespaces, dnsmasq, haproxy, iptables)' : `not available: ${neutron.reasons.join('; ')}`;
        process.stdout.write(`${formatDoctor(report)}\nnetworks:    user: available; neutron: ${line}\n`);
      }
      if (!report.ok) process.exitCode = 1;
    });
}
