import { resolve } from 'node:path';
import type { Command } from 'commander';
import { certify } from '../certify/certify.ts';
import { defaultJobs, parseJobs } from '../plan/select.ts';
import { interruptExitCode, interruptSignal } from '../run/interrupt.ts';
import { UserError } from '../util/errors.ts';
import { packageVersion } from '../util/package-root.ts';

interface CertifyFlags {
  reportDir?: string;
  jobs?: string;
  user?: string;
  memory?: string;
  filter: string[];
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerCertify(program: Command): void {
  program
    .command('certify')
    .description(
      'boot a local cloud image (qcow2 or raw; no manifest needed) with each datasource (config drive iso9660 and vfat, metadata service with the OpenStack and EC2 APIs, neutron\'s l3-agent and dhcp-agent paths where root allows) × DHCP/static, and write a compatibility card: what works, what fails and why, and what the image is (default user, cloud-init release, network renderer, first NIC, OS)',
    )
    .argument('<image>', 'the image file')
    .option('--report-dir <dir>', 'where card.md, card.json, card.html, the matrix reports and artifacts go (default: ./certify-<image name>)')
    .option('--jobs <n>', 'VMs at once, or auto (the default: about one per core, at most free memory ÷ 1.5 GiB)')
    .option('--user <name>', 'the image\'s default user, when known (skips the discovery boot)')
    .option('--memory <MiB>', 'guest RAM', '1024')
    .option('--filter <pattern>', 'only combinations whose id (certify/<image>/<datasource>/<network>) matches; * is a wildcard, otherwise a substring (repeatable)', collect, [])
    .addHelpText(
      'after',
      `
Examples:
  npx cloudprobe certify ~/images/noble-server-cloudimg-amd64.img
  npx cloudprobe certify my-image.qcow2 --user debian --filter '*/configdrive-*/*'

Prints the card (Markdown). Exit status: 0 when every combination works (n/a ones aside), 1 when
one fails or could not be checked, 2 for a file that is not a disk image or a bad flag, 130/143
when interrupted.`,
    )
    .action(async (image: string, flags: CertifyFlags) => {
      const memory = Number(flags.memory);
      if (!/^\d+$/.test(flags.memory ?? '') || memory < 128 || memory > 65536) throw new UserError(`--memory ${flags.memory}: expected MiB from 128 to 65536`);
      const jobs = flags.jobs !== undefined ? parseJobs(flags.jobs) : defaultJobs();
      const { certifyName } = await import('../certify/image-file.ts');
      const reportDir = resolve(flags.reportDir ?? certifyName(image));
      const say = (line: string) => process.stderr.write(`${line}\n`);
      const stamp = () => new Date().toISOString().slice(11, 19);
      const signal = interruptSignal();
      const outcome = await certify(image, {
        jobs,
        reportDir,
        memoryMiB: memory,
        filter: flags.filter,
        version: packageVersion(),
        ...(flags.user ? { user: flags.user } : {}),
        ...(signal ? { signal } : {}),
        say,
        onEvent: (e) => {
          if (e.type === 'start') say(`[${stamp()}] start ${e.cell.id}`);
          else if (e.type === 'log') say(`[${stamp()}] ${e.cell.id}: ${e.line}`);
          else if (e.type === 'done') say(`[${stamp()}] ${e.result.outcome} ${e.cell.id}`);
        },
      });
      process.stdout.write(`${await (await import('node:fs/promises')).readFile(outcome.files.markdown, 'utf8')}`);
      say(`card: ${outcome.files.markdown} ${outcome.files.html} ${outcome.files.json}`);
      if (outcome.report.interrupted) {
        process.exitCode = interruptExitCode();
        return;
      }
      const s = outcome.card.summary;
      process.exitCode = s.fails + s['could not check'] > 0 ? 1 : 0;
    });
}
