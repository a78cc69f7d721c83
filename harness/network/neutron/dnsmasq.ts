import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startNetnsDaemon, type NetnsDaemon } from './daemon.ts';
import { dnsmasqConfig } from './dnsmasq-config.ts';
import type { PlannedNetwork } from '../../model/topology.ts';

/** dnsmasq for one network, in its qdhcp namespace; up once its DHCP socket listens. */

export interface DnsmasqProcess extends NetnsDaemon {
  configFile: string;
  /** log-dhcp output: every request, the options sent, the lease. */
  logFile: string;
  leaseFile: string;
}

export interface StartDnsmasqOptions {
  network: PlannedNetwork;
  namespace: string;
  /** The cell's work dir: config, log, leases, pid file. */
  workDir: string;
}

export async function startDnsmasq(opts: StartDnsmasqOptions): Promise<DnsmasqProcess> {
  const stem = join(opts.workDir, `dnsmasq-${opts.network.name}`);
  const files = { configFile: `${stem}.conf`, logFile: `${stem}.log`, leaseFile: `${stem}.leases`, pidFile: `${stem}.pid` };
  await writeFile(files.configFile, dnsmasqConfig(opts.network, files));
  const daemon = await startNetnsDaemon({
    name: `dnsmasq for ${opts.network.name}`,
    namespace: opts.namespace,
    argv: ['dnsmasq', '--keep-in-foreground', `--conf-file=${files.configFile}`],
    outputFile: `${stem}.out`,
    listen: { proto: 'udp', port: 67 },
  });
  return Object.assign(daemon, { configFile: files.configFile, logFile: files.logFile, leaseFile: files.leaseFile });
}
