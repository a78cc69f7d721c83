import { setTimeout as sleep } from 'node:timers/promises';
import { consoleTail } from './console.ts';
import type { QemuProcess } from './qemu-process.ts';

/** The boot stages in order; each has its own timeout and a hint for when it is the one stuck. */
export const BOOT_STAGES = ['process', 'kernel', 'ssh-banner', 'ssh-login', 'cloud-init'] as const;
export type BootStage = (typeof BOOT_STAGES)[number];

/** Defaults sized for TCG on a loaded 2-core host (docs/facts.md §6: SSH 75–120 s, done 95–155 s). */
export const DEFAULT_STAGE_TIMEOUTS_MS: Record<BootStage, number> = {
  process: 20_000,
  kernel: 120_000,
  'ssh-banner': 420_000,
  'ssh-login': 240_000,
  'cloud-init': 420_000,
};

export const STAGE_HINTS: Record<BootStage, string> = {
  process: 'QEMU did not come up: see its stderr (a bad option, a missing file, a port already in use).',
  kernel:
    'no kernel output on the serial console: the disk may not be bootable, or the bootloader does not pass console=ttyS0; the console tail shows what the firmware/bootloader printed.',
  'ssh-banner':
    'the kernel booted but no sshd answered at the forwarded address: look in the console tail for a panic, a failed ssh.service or network errors; for a static NIC the forward targets the static address, so SSH only works if cloud-init applied network_data.json.',
  'ssh-login':
    'sshd answers but refuses the key: cloud-init may not have found the datasource (no authorized_keys), the default user may differ from the manifest, or logins are still blocked by /run/nologin.',
  'cloud-init': 'cloud-init did not finish: run `cloud-init status --long` and read /var/log/cloud-init.log in the artifacts.',
};

/** A boot stage that failed or timed out, with the console tail a person needs to see why. */
export class StageError extends Error {
  override name = 'StageError';
  constructor(
    readonly stage: BootStage,
    message: string,
    readonly hint: string,
    readonly consoleTail: string,
  ) {
    super(message);
  }
}

export class AbortedError extends Error {
  override name = 'AbortedError';
}

/**
 * Runs one stage: `attempt` is called repeatedly (it returns a value when the stage is reached,
 * undefined to try again) until the stage timeout; QEMU exiting or an abort end it at once.
 */
export async function runStage<T>(
  stage: BootStage,
  qemu: QemuProcess,
  opts: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal; serialLog: string; hint?: string },
  attempt: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const hint = opts.hint ?? STAGE_HINTS[stage];
  let lastError: string | undefined;
  const fail = async (message: string) =>
    new StageError(stage, message, hint, await consoleTail(opts.serialLog));
  for (;;) {
    if (opts.signal?.aborted) throw new AbortedError(`aborted during stage ${stage}`);
    if (!qemu.alive) {
      const e = qemu.exit!;
      const stderr = qemu.stderr.trim();
      throw await fail(
        `stage ${stage}: QEMU exited (${e.signal ? `signal ${e.signal}` : `code ${e.code}`}) before the stage was reached${stderr ? `; QEMU said: ${stderr.split('\n').slice(-3).join(' / ')}` : ''}`,
      );
    }
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() >= deadline) {
      throw await fail(`stage ${stage}: not reached within ${Math.round(opts.timeoutMs / 1000)} s${lastError ? ` (last error: ${lastError})` : ''}`);
    }
    await Promise.race([sleep(opts.intervalMs ?? 500), qemu.exited]);
  }
}
