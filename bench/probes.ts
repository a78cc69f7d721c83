/**
 * Probes bench (issue 12): one boot of the seed scenario, then the same probes against the same
 * guest, alternately one at a time over plain SSH execs (how they ran before batching) and all at
 * once through the batching transport (harness/ssh/batch.ts), twice each. Verdicts must agree;
 * prints the seconds of each run and the last plain line `probes_s sequential: X batched: Y`.
 * Usage: npx tsx bench/probes.ts [image]   (default debian-12-eni)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProbeVerdict } from '../harness/model/probe.ts';
import { PROBE_NAMES } from '../harness/model/probe.ts';
import type { ProbeContext } from '../harness/probes/context.ts';
import { PROBES, runProbes } from '../harness/probes/run.ts';
import { runCell } from '../harness/run/run-cell.ts';
import { BatchingTransport } from '../harness/ssh/batch.ts';
import { SshSession } from '../harness/ssh/client.ts';
import { Guest } from '../harness/ssh/guest.ts';
import { generateKeyPair } from '../harness/ssh/keys.ts';
import { ensureImage } from '../harness/images/ensure.ts';
import { DHCP_NIC, seedCell } from '../test/e2e/helpers/seed.ts';

const image = process.argv[2] ?? 'debian-12-eni';
const key = generateKeyPair('bench-probes');
const root = await mkdtemp(join(tmpdir(), 'cloudprobe-bench-probes-'));

async function sequential(ctx: ProbeContext, session: SshSession): Promise<ProbeVerdict[]> {
  const c = { ...ctx, guest: new Guest(session, ctx.guest.user) };
  const out: ProbeVerdict[] = [];
  for (const name of PROBE_NAMES) out.push(await PROBES[name](c));
  return out;
}

async function batched(ctx: ProbeContext, session: SshSession): Promise<{ verdicts: ProbeVerdict[]; stats: BatchingTransport['stats'] }> {
  const transport = new BatchingTransport(session, ctx.guest.user);
  const verdicts = await runProbes({ ...ctx, guest: new Guest(transport, ctx.guest.user) });
  return { verdicts, stats: transport.stats };
}

const shape = (vs: ProbeVerdict[]) => vs.map((v) => `${v.probe}:${v.status}`).join(' ');
const times: Record<'sequential' | 'batched', number[]> = { sequential: [], batched: [] };
try {
  await ensureImage(image);
  const cell = await seedCell({ image, datasource: 'configdrive-iso9660', nic: DHCP_NIC, publicKey: key.publicKey, name: 'bench' });
  const result = await runCell(cell, {
    artifactsRoot: root,
    keep: 'never',
    sshKey: key,
    inspect: async (ctx) => {
      const session = await SshSession.connect({ host: ctx.ssh.host, port: ctx.ssh.port, user: ctx.ssh.user, privateKey: key.privateKey });
      try {
        let reference: string | undefined;
        for (let round = 0; round < 2; round++) {
          let t = Date.now();
          const s = await sequential(ctx, session);
          times.sequential.push((Date.now() - t) / 1000);
          t = Date.now();
          const b = await batched(ctx, session);
          times.batched.push((Date.now() - t) / 1000);
          console.log(`round ${round + 1}: sequential ${times.sequential.at(-1)!.toFixed(1)} s, batched ${times.batched.at(-1)!.toFixed(1)} s (${b.stats.commands} commands in ${b.stats.roundTrips} execs)`);
          reference ??= shape(s);
          if (shape(s) !== reference || shape(b.verdicts) !== reference) throw new Error(`verdicts differ:\n${reference}\n${shape(s)}\n${shape(b.verdicts)}`);
        }
        // Each probe alone, one at a time, as the slowest part of a round shows.
        const c = { ...ctx, guest: new Guest(session, ctx.guest.user) };
        const slow: string[] = [];
        for (const name of PROBE_NAMES) {
          const t = Date.now();
          await PROBES[name](c);
          slow.push(`${name} ${((Date.now() - t) / 1000).toFixed(1)}`);
        }
        console.log(`per probe (s, alone): ${slow.join(', ')}`);
      } finally {
        session.close();
      }
    },
  });
  if (result.outcome !== 'pass') throw new Error(`the boot did not pass: ${JSON.stringify(result.error ?? result.verdicts.filter((v) => v.status !== 'pass' && v.status !== 'n/a'))}`);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`image ${image}, ${new Date().toISOString()}, load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`probes_s sequential: ${mean(times.sequential).toFixed(1)} batched: ${mean(times.batched).toFixed(1)}`);
} finally {
  await rm(root, { recursive: true, force: true });
}
