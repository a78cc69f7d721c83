import { mkdir, statfs } from 'node:fs/promises';
import { access, constants } from 'node:fs/promises';
import { imageCacheDir } from '../util/paths.ts';
import { chooseAccel, probeAccel, type AccelProbe } from './kvm-probe.ts';
import { checkTools, type ToolStatus } from './tools.ts';

export interface DoctorReport {
  ok: boolean;
  qemu: ToolStatus | undefined;
  kvm: { devicePresent: boolean; usable: boolean; detail: string };
  tcg: AccelProbe;
  accelerator: { use: 'kvm' | 'tcg'; reason: string };
  tools: ToolStatus[];
  cache: { dir: string; freeBytes?: number; error?: string };
  missing: { name: string; debianPackage: string; purpose: string }[];
}

async function freeSpace(dir: string): Promise<{ dir: string; freeBytes?: number; error?: string }> {
  try {
    await mkdir(dir, { recursive: true });
    const s = await statfs(dir);
    return { dir, freeBytes: s.bavail * s.bsize };
  } catch (err) {
    return { dir, error: (err as Error).message };
  }
}

/** Everything a user needs to know before a run: tools, accelerator (really probed), disk. */
export async function runDoctor(env: NodeJS.ProcessEnv = process.env): Promise<DoctorReport> {
  const [tools, choice, tcg, cache, devicePresent] = await Promise.all([
    checkTools(),
    chooseAccel({ env, fresh: true }),
    probeAccel('tcg'),
    freeSpace(imageCacheDir(env)),
    access('/dev/kvm', constants.F_OK).then(() => true, () => false),
  ]);
  const missing = tools.filter((t) => t.required && !t.found).map((t) => ({ name: t.name, debianPackage: t.debianPackage, purpose: t.purpose }));
  const accelOk = choice.accel === 'kvm' ? choice.kvm.ok || env.CLOUDPROBE_ACCEL === 'kvm' : tcg.ok;
  return {
    ok: missing.length === 0 && accelOk,
    qemu: tools.find((t) => t.name === 'qemu-system-x86_64'),
    kvm: { devicePresent, usable: choice.kvm.ok, detail: choice.kvm.detail },
    tcg,
    accelerator: { use: choice.accel, reason: choice.reason },
    tools,
    cache,
    missing,
  };
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

export function formatDoctor(r: DoctorReport): string {
  const lines: string[] = [];
  const mark = (ok: boolean) => (ok ? 'ok     ' : 'MISSING');
  lines.push(`qemu:        ${r.qemu?.found ? `${r.qemu.path} (${r.qemu.version ?? '?'})` : 'not found'}`);
  lines.push(`/dev/kvm:    ${r.kvm.devicePresent ? 'present' : 'absent'}, ${r.kvm.usable ? 'usable' : 'NOT usable'}: ${r.kvm.detail}`);
  lines.push(`tcg:         ${r.tcg.ok ? 'works' : 'BROKEN'}: ${r.tcg.detail}`);
  lines.push(`accelerator: ${r.accelerator.use} (${r.accelerator.reason})`);
  lines.push(`cache:       ${r.cache.dir}: ${r.cache.freeBytes !== undefined ? `${gib(r.cache.freeBytes)} free` : `error: ${r.cache.error}`}`);
  lines.push('tools:');
  for (const t of r.tools) {
    const what = t.found ? `${t.path}${t.version ? ` (${t.version})` : ''}` : `install Debian package ${t.debianPackage} (${t.purpose})`;
    lines.push(`  ${mark(t.found)} ${t.name.padEnd(20)} ${what}`);
  }
  lines.push(r.ok ? 'doctor: ready' : `doctor: NOT ready${r.missing.length ? `: apt-get install ${[...new Set(r.missing.map((m) => m.debianPackage))].join(' ')}` : ''}`);
  return lines.join('\n');
}
