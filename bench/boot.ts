/**
 * Boot bench (issue 4): on one image, in one run, one VM at a time —
 *  1. the harness: runCell start → verdicts (seed scenario, iso9660 config drive, DHCP), with
 *     its stage timings;
 *  2. the guest's own boot-to-sshd time: host-side timestamps of serial console lines (kernel
 *     banner → systemd's "Started … OpenBSD Secure Shell server") and the guest's monotonic clock
 *     (`systemctl show ssh -p ActiveEnterTimestampMonotonic`);
 *  3. a plain shell baseline (bench/boot-baseline.sh: qemu-img + genisoimage + qemu + an ssh loop).
 * Usage: npx tsx bench/boot.ts [image]   (default debian-12-eni). Prints a Markdown table.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureImage } from '../harness/images/ensure.ts';
import { runCell } from '../harness/run/run-cell.ts';
import { generateKeyPair } from '../harness/ssh/keys.ts';
import { DHCP_NIC, seedCell } from '../test/e2e/helpers/seed.ts';

const image = process.argv[2] ?? 'debian-12-eni';
const exec = promisify(execFile);

/** Polls a growing serial log and records when each pattern first shows up (host clock). */
class SerialClock {
  private offset = 0;
  private text = '';
  readonly seen: Record<string, number> = {};
  private timer?: NodeJS.Timeout;
  constructor(
    private readonly path: string,
    private readonly patterns: Record<string, RegExp>,
  ) {}
  start(): void {
    this.timer = setInterval(() => void this.poll(), 100);
  }
  stop(): void {
    clearInterval(this.timer);
  }
  private async poll(): Promise<void> {
    try {
      const { size } = await stat(this.path);
      if (size <= this.offset) return;
      const fh = await open(this.path, 'r');
      const buf = Buffer.alloc(size - this.offset);
      await fh.read(buf, 0, buf.length, this.offset);
      await fh.close();
      this.offset = size;
      this.text += buf.toString('utf8');
      for (const [name, re] of Object.entries(this.patterns)) if (!(name in this.seen) && re.test(this.text)) this.seen[name] = Date.now();
    } catch {
      // not there yet
    }
  }
}

const key = generateKeyPair('bench-boot');
const root = await mkdtemp(join(tmpdir(), 'cloudprobe-bench-'));
try {
  const img = await ensureImage(image);
  const cell = await seedCell({ image, datasource: 'configdrive-iso9660', nic: DHCP_NIC, publicKey: key.publicKey, name: 'bench' });

  // 1 + 2: the harness, with a serial clock on its console.
  let clock: SerialClock | undefined;
  let qemuStartedAt = 0;
  let sshdMonotonicS: number | undefined;
  let kernelToUserspace: string | undefined;
  const t0 = Date.now();
  const result = await runCell(cell, {
    artifactsRoot: root,
    keep: 'never',
    sshKey: key,
    log: (line) => {
      const m = /qemu pid \d+, ssh on \S+, serial (\S+)/.exec(line);
      if (m) {
        qemuStartedAt = Date.now();
        clock = new SerialClock(m[1]!, { kernel: /Linux version \d/, sshd: /Started .*OpenBSD Secure Shell server/, cloudInitDone: /Cloud-init v\. \S+ finished/ });
        clock.start();
      }
    },
    inspect: async (ctx) => {
      const r = await ctx.guest.exec(['systemctl', 'show', 'ssh.service', '-p', 'ActiveEnterTimestampMonotonic', '--value']);
      sshdMonotonicS = Number(r.stdout.trim()) / 1e6;
      kernelToUserspace = (await ctx.guest.exec(['systemd-analyze', 'time'])).stdout.split('\n')[0]?.trim();
    },
  });
  clock?.stop();
  const harnessTotal = (Date.now() - t0) / 1000;
  if (result.outcome !== 'pass') throw new Error(`harness run did not pass: ${JSON.stringify(result.error ?? result.verdicts.filter((v) => v.status === 'fail'))}`);
  const seen = clock?.seen ?? {};
  const rel = (name: string) => (seen[name] ? ((seen[name]! - qemuStartedAt) / 1000).toFixed(1) : '–');

  // 3: the shell baseline, alone.
  const pub = join(root, 'id.pub');
  const priv = join(root, 'id');
  await writeFile(pub, `${key.publicKey}\n`);
  await writeFile(priv, key.privateKey, { mode: 0o600 });
  const script = fileURLToPath(new URL('./boot-baseline.sh', import.meta.url));
  const b0 = Date.now();
  const base = await exec('bash', [script, img.path!, pub, priv, String(img.manifest.min_ram_mib)], { timeout: 900_000 });
  const baselineTotal = (Date.now() - b0) / 1000;
  const sshS = /ssh_s=([\d.]+)/.exec(base.stdout)?.[1];
  const doneS = /done_s=([\d.]+)/.exec(base.stdout)?.[1];

  const t = result.timings;
  const s = (ms?: number) => (ms === undefined ? '–' : (ms / 1000).toFixed(1));
  console.log(`image ${image}, accel ${result.accel.use}, ${new Date().toISOString()}, load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('');
  console.log('| measurement | seconds |');
  console.log('|---|---|');
  console.log(`| harness: runCell start → verdicts (total, incl. image check, drive build, probes, artifacts, stop) | ${harnessTotal.toFixed(1)} |`);
  console.log(`| harness stages from QEMU start: kernel / ssh-banner / ssh-login / cloud-init done / probes done | ${s(t.kernel)} / ${s(t['ssh-banner'])} / ${s(t['ssh-login'])} / ${s(t['cloud-init'])} / ${s(t.probes)} |`);
  console.log(`| guest serial (host clock from QEMU start): kernel banner / sshd started / cloud-init finished | ${rel('kernel')} / ${rel('sshd')} / ${rel('cloudInitDone')} |`);
  console.log(`| guest serial: kernel banner → sshd started | ${seen.kernel && seen.sshd ? ((seen.sshd - seen.kernel) / 1000).toFixed(1) : '–'} |`);
  console.log(`| guest monotonic clock: sshd active since kernel start | ${sshdMonotonicS?.toFixed(1) ?? '–'} |`);
  console.log(`| shell baseline: ssh login / cloud-init done (from QEMU start) | ${sshS ?? '–'} / ${doneS ?? '–'} |`);
  console.log(`| shell baseline total (incl. overlay, genisoimage, teardown) | ${baselineTotal.toFixed(1)} |`);
  console.log('');
  console.log(`systemd-analyze: ${kernelToUserspace ?? '–'}`);
  console.log(`QEMU peak RSS: ${result.qemuPeakRssMiB ?? '–'} MiB`);
  // The plain last line a script reads: start → verdict over the guest's own boot to cloud-init
  // done (serial clock, same run), and the probes' own seconds (cloud-init done → probes done).
  const guestDoneS = seen.cloudInitDone ? (seen.cloudInitDone - qemuStartedAt) / 1000 : undefined;
  const probesS = t.probes !== undefined && t['cloud-init'] !== undefined ? (t.probes - t['cloud-init']) / 1000 : undefined;
  console.log(`ratio verdict/guest-cloud-init-done: ${guestDoneS ? (harnessTotal / guestDoneS).toFixed(2) : 'n/a'} probes_s: ${probesS?.toFixed(1) ?? 'n/a'}`);
} finally {
  await rm(root, { recursive: true, force: true });
}
