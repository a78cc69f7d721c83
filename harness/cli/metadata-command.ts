import type { Command } from 'commander';
import { Option } from 'commander';
import { loadInstanceFile } from '../model/instance.ts';
import { startMetadataService } from '../metadata/service.ts';
import { interruptSignal } from '../run/interrupt.ts';
import { IMDSV2_MODES, type Imdsv2Mode } from '../model/datasources.ts';
import { prepareOutputDir } from '../util/output-path.ts';
import { UserError } from '../util/errors.ts';

interface ServeOptions {
  instance: string[];
  port: string;
  secret?: string;
  imdsv2: Imdsv2Mode;
  guestIp?: string;
  logDir?: string;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UserError(`--port ${value}: must be a port number (0 picks a free one)`);
  return n;
}

/** Resolves when the entry point's interrupt handler fires (SIGINT, SIGTERM, parent gone). */
function untilInterrupted(): Promise<void> {
  // A signal is how `serve` is meant to end: stop quietly, exit 0.
  const signal = interruptSignal({ quiet: true });
  if (!signal) throw new Error('metadata serve needs the CLI interrupt handler (harness/run/interrupt.ts)');
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

export function registerMetadata(program: Command): void {
  const metadata = program.command('metadata').description('the built-in OpenStack/EC2 metadata service (nova-api-metadata behind per-instance signing proxies)');
  metadata
    .command('serve')
    .description('serve instances on loopback until SIGINT/SIGTERM; prints one JSON line per instance ({uuid, name, url}: the per-instance proxy a guest\'s traffic goes to) and one {service} line')
    .requiredOption('--instance <file>', 'instance YAML file (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--port <n>', 'service port (0: a free one)', '0')
    .option('--secret <s>', 'metadata proxy shared secret (default: random)')
    .addOption(new Option('--imdsv2 <mode>', 'IMDSv2 session tokens for the EC2 tree').choices(IMDSV2_MODES).default('off'))
    .option('--guest-ip <ip>', "the guests' address (X-Forwarded-For, EC2 local-ipv4); slirp's DHCP gives 169.254.169.15 on net=169.254.169.0/24")
    .option('--log-dir <dir>', 'also append each request to <dir>/<uuid>.metadata.jsonl')
    .action(async (opts: ServeOptions) => {
      const port = parsePort(opts.port);
      const instances = [];
      const fileOf = new Map<string, string>();
      for (const f of opts.instance) {
        const inst = await loadInstanceFile(f);
        // Each instance answers at its own proxy, found by uuid: two with one uuid would be one instance.
        const first = fileOf.get(inst.uuid);
        if (first) throw new UserError(`--instance ${f}: uuid ${inst.uuid} is already the uuid of ${first}`);
        fileOf.set(inst.uuid, f);
        instances.push(inst);
      }
      if (opts.logDir) await prepareOutputDir('--log-dir', opts.logDir);
      const stop = untilInterrupted();
      const svc = await startMetadataService({ port, ...(opts.secret ? { secret: opts.secret } : {}), ...(opts.logDir ? { logDir: opts.logDir } : {}) }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') throw new UserError(`--port ${port}: 127.0.0.1:${port} is already in use`);
        throw err;
      });
      try {
        // Announced only once every instance is up: nothing printed is taken back by an error.
        const lines: string[] = [];
        for (const inst of instances) {
          const ep = await svc.addInstance(inst, { imdsv2: opts.imdsv2, ...(opts.guestIp ? { guestIp: opts.guestIp } : {}) });
          lines.push(`${JSON.stringify({ uuid: inst.uuid, name: inst.name, url: ep.url })}\n`);
        }
        process.stdout.write(lines.join(''));
        process.stdout.write(`${JSON.stringify({ service: svc.serviceUrl })}\n`);
        await stop;
      } finally {
        await svc.close();
      }
    });
}
