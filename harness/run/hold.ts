import { outcomeOf, type KeepMode } from '../model/cell.ts';
import type { RunCellOptions } from './cell-options.ts';

/**
 * --keep / --hold: after its probes, hold a VM running (it keeps its job slot) and print how to
 * reach it, until the run is interrupted; then the cell carries on as usual — its console and
 * metadata logs are collected and its teardown runs. on-failure holds only cells whose verdicts
 * did not pass; always holds every cell.
 */
export function holdHook(opts: {
  keep: KeepMode;
  /** The run's abort signal: a hold ends when it fires. */
  signal: AbortSignal;
  say: (line: string) => void;
  /** Path of the private key that logs in (written on first use). */
  keyFile: () => Promise<string>;
  /** Printed before the ssh command. */
  label: string;
}): RunCellOptions['inspect'] | undefined {
  if (opts.keep === 'never') return undefined;
  return async (ctx, verdicts) => {
    if (opts.keep === 'on-failure' && outcomeOf(verdicts) === 'pass') return undefined;
    const sshCommand = `ssh -i ${await opts.keyFile()} -p ${ctx.ssh.port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null ${ctx.ssh.user}@${ctx.ssh.host}`;
    opts.say(`${opts.label}: ${sshCommand}   (running until Ctrl-C)`);
    await new Promise<void>((done) => (opts.signal.aborted ? done() : opts.signal.addEventListener('abort', () => done(), { once: true })));
    return { sshCommand };
  };
}
