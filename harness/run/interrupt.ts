/**
 * The one interrupt handler: SIGINT, SIGTERM and the death of the parent process become one
 * AbortSignal that the run session (and everything it started) listens to. Only an entry point
 * (the CLI's main, a script) installs it; library code takes the signal as an option.
 *
 * The parent watch is for `npx cloudprobe …`: npm exec does not pass SIGTERM on, so a signalled
 * npx exits and leaves this process running with its VMs. When our parent goes, we are
 * re-parented (ppid changes), and that is treated like SIGTERM.
 */

export type InterruptCause = 'SIGINT' | 'SIGTERM' | 'parent-exit';

export interface InterruptHandler {
  signal: AbortSignal;
  /** What interrupted the run, once it was. */
  cause(): InterruptCause | undefined;
  /** The exit status an interrupted command ends with (130 for SIGINT, 143 for SIGTERM). */
  exitCode(): number;
  dispose(): void;
}

const EXIT_CODES: Record<InterruptCause, number> = { SIGINT: 130, SIGTERM: 143, 'parent-exit': 143 };

let current: InterruptHandler | undefined;
/** Whether a command listens to the signal (and so ends itself, cleanly, when it fires). */
let claimed = false;
/** A command for which a signal is the ordinary way to end (metadata serve) stops without a notice. */
let quiet = false;

export function installInterruptHandler(opts: { say?: (line: string) => void; parentPollMs?: number } = {}): InterruptHandler {
  if (current) return current;
  const say = opts.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  const controller = new AbortController();
  let cause: InterruptCause | undefined;

  const interrupt = (why: InterruptCause) => {
    if (cause) {
      // A second interrupt: quit now. The exit guard (vm/exit-guard.ts) still SIGKILLs every QEMU
      // and removes temp dirs synchronously on the way out.
      say(`cloudprobe: ${why} again: quitting at once`);
      process.exit(EXIT_CODES[why]);
    }
    cause = why;
    if (!quiet) say(`cloudprobe: ${why === 'parent-exit' ? 'parent process exited' : why}: stopping, keeping the logs, cleaning up (again to quit at once)`);
    if (!claimed) {
      // No command took charge of interrupts (doctor, drive build…): end now; the exit hooks
      // (temp dirs, partial files, QEMU) still run.
      process.exit(EXIT_CODES[why]);
    }
    controller.abort(new Error(`interrupted by ${why}`));
  };
  const onSigint = () => interrupt('SIGINT');
  const onSigterm = () => interrupt('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);

  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(watch);
      interrupt('parent-exit');
    }
  }, opts.parentPollMs ?? 1000);
  watch.unref();

  const handler: InterruptHandler = {
    signal: controller.signal,
    cause: () => cause,
    exitCode: () => (cause ? EXIT_CODES[cause] : 0),
    dispose: () => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
      clearInterval(watch);
      if (current === handler) {
        current = undefined;
        claimed = false;
        quiet = false;
      }
    },
  };
  current = handler;
  return handler;
}

/**
 * The installed handler's signal, for a command that stops cleanly when it fires. Asking for it
 * takes charge: without a taker, the first interrupt exits the process at once.
 */
export function interruptSignal(opts: { quiet?: boolean } = {}): AbortSignal | undefined {
  if (current) {
    claimed = true;
    quiet ||= opts.quiet === true;
  }
  return current?.signal;
}

/** The exit status for an interrupted command: the installed handler's (130 SIGINT, 143 SIGTERM), else 130. */
export function interruptExitCode(): number {
  return current?.cause() ? current.exitCode() : 130;
}
