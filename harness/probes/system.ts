import { shellQuote } from './shell.ts';
import { Evidence, notApplicable, verdict, type ProbeContext } from './context.ts';
import type { ProbeVerdict } from '../model/probe.ts';

/** /etc/timezone and the /etc/localtime link must both name the zone. */
export async function probeTimezone(ctx: ProbeContext): Promise<ProbeVerdict> {
  const tz = ctx.expectations.timezone;
  const na = notApplicable('timezone', ctx, tz);
  if (na || !tz) return na!;
  const ev = new Evidence();
  const file = (await ev.run(ctx, 'cat /etc/timezone')).stdout.trim();
  const link = (await ev.run(ctx, 'readlink /etc/localtime')).stdout.trim();
  await ev.run(ctx, 'date +%Z%z');
  const problems: string[] = [];
  if (file !== tz) problems.push(`/etc/timezone says "${file || '(missing)'}", expected "${tz}"`);
  if (!link.endsWith(`/zoneinfo/${tz}`)) problems.push(`/etc/localtime links to "${link || '(not a link)'}", expected …/zoneinfo/${tz}`);
  const observed = { etcTimezone: file, localtime: link };
  return problems.length
    ? verdict('timezone', 'fail', problems.join('; '), { expected: tz, observed, evidence: ev })
    : verdict('timezone', 'pass', `timezone ${tz} (/etc/timezone and /etc/localtime → ${link})`, { expected: tz, observed, evidence: ev });
}

/** Paths runcmd must have created (the seed's `mkdir /yunshan`). */
export async function probeRuncmd(ctx: ProbeContext): Promise<ProbeVerdict> {
  const paths = ctx.expectations.runcmdPaths;
  const na = notApplicable('runcmd', ctx, paths);
  if (na || !paths) return na!;
  const ev = new Evidence();
  const missing: string[] = [];
  const observed: Record<string, string> = {};
  for (const p of paths) {
    const r = await ev.run(ctx, `stat -c '%F, owner %U, mode %a, modified %y' ${shellQuote(p)}`, { root: true });
    observed[p] = r.code === 0 ? r.stdout.trim() : 'missing';
    if (r.code !== 0) missing.push(p);
  }
  return missing.length
    ? verdict('runcmd', 'fail', `runcmd did not create ${missing.join(', ')}`, { expected: paths, observed, evidence: ev })
    : verdict('runcmd', 'pass', `runcmd created ${paths.join(', ')}`, { expected: paths, observed, evidence: ev });
}
