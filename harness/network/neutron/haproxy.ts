import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startNetnsDaemon, type NetnsDaemon } from './daemon.ts';
import { haproxyConfig, type HaproxyConfigInput } from './haproxy-config.ts';

/** haproxy as neutron-ns-metadata-proxy in a router or DHCP namespace; up once it listens. */

export interface HaproxyProcess extends NetnsDaemon {
  configFile: string;
  /** haproxy's access log (httplog lines on stdout) and its warnings. */
  logFile: string;
}

export interface StartHaproxyOptions {
  config: HaproxyConfigInput;
  namespace: string;
  /** The cell's work dir. */
  workDir: string;
  /** File stem in the work dir, e.g. `haproxy-qdhcp-private`. */
  stem: string;
}

export async function startHaproxy(opts: StartHaproxyOptions): Promise<HaproxyProcess> {
  const stem = join(opts.workDir, opts.stem);
  const configFile = `${stem}.cfg`;
  const logFile = `${stem}.log`;
  await writeFile(configFile, haproxyConfig(opts.config));
  const daemon = await startNetnsDaemon({
    name: `haproxy for ${opts.config.resource.kind} ${opts.config.resource.id}`,
    namespace: opts.namespace,
    // -db: foreground, no master process: the pid we hold is the one proxy.
    argv: ['haproxy', '-db', '-f', configFile],
    outputFile: logFile,
    listen: { proto: 'tcp', port: opts.config.port, address: opts.config.bindAddress },
  });
  return Object.assign(daemon, { configFile, logFile });
}
