import { access, constants, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { cacheRoot } from '../util/paths.ts';
import { which } from './tools.ts';

export const PROBE_MARKER = 'CLOUDPROBE-ACCEL-OK';

/**
 * A 512-byte BIOS boot sector (source: accel-probe.asm beside this file) that enters long mode,
 * spins 200M iterations, uses SSE, prints PROBE_MARKER on COM1 and exits QEMU through
 * isa-debug-exit. Merely opening /dev/kvm, or even running real-mode code, proves nothing: on
 * some hosts KVM runs the firmware but then crawls or fails on SSE, and real kernels hang.
 */
const PROBE_SECTOR_B64 =
  '+jHAjtiO0LwAfA8BFhB9DyDADAEPIsDqHHwIAGa4EACO2I7AjtC8AHwAAL8AEAAAMcC5AAwAAPOrxwUAEAAAAyAAAMcFACAAAAMwAADHBQAwAACDAAAAuAAQAAAPItgPIOCDyCAPIuC5gAAAwA8yDQABAAAPMA8gwA0AAACADyLA6oh8AAAYALkAwusLSAHISP/JdfgPIMBmg+D7ZoPIAg8iwA8g4GYNAAYPIuBmD+/A8w9vDSEAAABmD/zBZrr4A0iNNRIAAACshMB0A+7r+Ga69AAwwO706/1DTE9VRFBST0JFLUFDQ0VMLU9LCgCQAAAAAAAAAAD//wAAAJrPAP//AAAAks8A//8AAACarwAfAPB8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAVao=';

export function probeBootSector(): Buffer {
  return Buffer.from(PROBE_SECTOR_B64, 'base64');
}

export interface AccelProbe {
  accel: 'kvm' | 'tcg';
  ok: boolean;
  /** Milliseconds from QEMU start to the marker, when it came. */
  elapsedMs?: number;
  detail: string;
}

/** Boots the probe sector with one accelerator, bounded by `timeoutMs`. */
export async function probeAccel(accel: 'kvm' | 'tcg', opts: { qemu?: string; timeoutMs?: number } = {}): Promise<AccelProbe> {
  const timeoutMs = opts.timeoutMs ?? 4000;
  if (accel === 'kvm') {
    try {
      await access('/dev/kvm', constants.R_OK | constants.W_OK);
    } catch (err) {
      return { accel, ok: false, detail: `/dev/kvm is not accessible: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
    }
  }
  const dir = await mkdtemp(join(tmpdir(), 'cloudprobe-accel-'));
  try {
    const disk = join(dir, 'probe.img');
    await writeFile(disk, probeBootSector());
    const started = Date.now();
    const r = await execa(
      opts.qemu ?? 'qemu-system-x86_64',
      ['-accel', accel, '-nodefaults', '-display', 'none', '-no-reboot', '-m', '16', '-serial', 'stdio',
        '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-drive', `file=${disk},format=raw,if=ide`],
      { reject: false, timeout: timeoutMs, killSignal: 'SIGKILL', all: true, stdin: 'ignore' },
    );
    const elapsedMs = Date.now() - started;
    const out = r.all ?? '';
    if (out.includes(PROBE_MARKER)) return { accel, ok: true, elapsedMs, detail: `probe guest ran in ${elapsedMs} ms` };
    if (r.timedOut) return { accel, ok: false, detail: `probe guest printed nothing within ${timeoutMs} ms (the accelerator opens but guests hang)` };
    const why = out.split('\n').map((l) => l.trim()).filter(Boolean).slice(-2).join(' / ') || `exit code ${r.exitCode}`;
    return { accel, ok: false, detail: `qemu failed: ${why}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface AccelChoice {
  accel: 'kvm' | 'tcg';
  reason: string;
  kvm: AccelProbe;
}

/** What makes a KVM probe result stale: another host boot, another qemu binary, another /dev/kvm. */
async function probeKey(qemu: string): Promise<string> {
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => 'unknown')).trim();
  const qemuPath = (await which(qemu)) ?? qemu;
  const qemuStamp = await stat(qemuPath).then((s) => `${s.size}:${s.mtimeMs}`, () => 'missing');
  const kvmStamp = await stat('/dev/kvm').then((s) => `${s.rdev}:${s.mode}`, () => 'absent');
  return [bootId, qemuPath, qemuStamp, kvmStamp].join('|');
}

interface CachedProbe {
  key: string;
  probedAt: string;
  kvm: AccelProbe;
}

/**
 * The KVM probe, remembered for this host boot in `cacheFile`: where KVM hangs, every probe costs
 * its whole time limit, and each harness process (each vitest worker, each `cloudprobe run`) would
 * pay it again. `fresh` (doctor) always probes and refreshes the record.
 */
export async function probeKvmCached(opts: { cacheFile: string; qemu?: string; fresh?: boolean }): Promise<{ kvm: AccelProbe; probedAt?: string }> {
  const qemu = opts.qemu ?? 'qemu-system-x86_64';
  const key = await probeKey(qemu);
  if (!opts.fresh) {
    const record = await readFile(opts.cacheFile, 'utf8')
      .then((t) => JSON.parse(t) as CachedProbe)
      .catch(() => undefined);
    if (record?.key === key && typeof record.kvm?.ok === 'boolean') return { kvm: record.kvm, probedAt: record.probedAt };
  }
  const kvm = await probeAccel('kvm', { qemu });
  const record: CachedProbe = { key, probedAt: new Date().toISOString(), kvm };
  try {
    await mkdir(dirname(opts.cacheFile), { recursive: true });
    const tmp = `${opts.cacheFile}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
    await rename(tmp, opts.cacheFile);
  } catch {
    // A read-only cache only costs the next process another probe.
  }
  return { kvm };
}

let cached: Promise<AccelChoice> | undefined;

/**
 * KVM when a real probe boot succeeds, else TCG with the reason. `CLOUDPROBE_ACCEL=kvm|tcg`
 * forces a choice (the probe still runs so the reason stays honest). Memoised per process, and the
 * probe per host boot (see probeKvmCached); `fresh` re-probes.
 */
export function chooseAccel(opts: { qemu?: string; env?: NodeJS.ProcessEnv; fresh?: boolean } = {}): Promise<AccelChoice> {
  if (opts.fresh) cached = undefined;
  cached ??= (async () => {
    const env = opts.env ?? process.env;
    const forced = env.CLOUDPROBE_ACCEL;
    const { kvm, probedAt } = await probeKvmCached({ cacheFile: join(cacheRoot(env), 'accel-probe.json'), qemu: opts.qemu, fresh: opts.fresh });
    const when = probedAt ? ` (probed ${probedAt} this host boot; \`cloudprobe doctor\` probes again)` : '';
    if (forced === 'tcg') return { accel: 'tcg', reason: 'forced by CLOUDPROBE_ACCEL=tcg', kvm };
    if (forced === 'kvm') return { accel: 'kvm', reason: `forced by CLOUDPROBE_ACCEL=kvm (probe: ${kvm.detail})`, kvm };
    if (kvm.ok) return { accel: 'kvm', reason: `KVM works: ${kvm.detail}${when}`, kvm };
    return { accel: 'tcg', reason: `KVM not usable: ${kvm.detail}${when}; falling back to TCG software emulation`, kvm };
  })();
  return cached;
}
