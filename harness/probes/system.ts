import { defineProbe, fail, judge, pass } from './define.ts';

/** /etc/timezone and the /etc/localtime link must both name the zone. */
export const probeTimezone = defineProbe('timezone', {
  expects: (e) => e.timezone,
  run: async (tz, guest) => {
    const file = ((await guest.readFile('/etc/timezone')) ?? '').trim();
    // readlink fails when /etc/localtime is not a link: an answer, judged below.
    const link = (await guest.exec(['readlink', '/etc/localtime'])).stdout.trim();
    await guest.exec(['date', '+%Z%z']);
    const problems: string[] = [];
    if (file !== tz) problems.push(`/etc/timezone says "${file || '(missing)'}", expected "${tz}"`);
    if (!link.endsWith(`/zoneinfo/${tz}`)) problems.push(`/etc/localtime links to "${link || '(not a link)'}", expected …/zoneinfo/${tz}`);
    const observed = { etcTimezone: file, localtime: link };
    return judge(problems, `timezone ${tz} (/etc/timezone and /etc/localtime → ${link})`, { expected: tz, observed });
  },
});

/** Paths runcmd must have created (the seed's `mkdir /yunshan`). */
export const probeRuncmd = defineProbe('runcmd', {
  expects: (e) => e.runcmdPaths,
  run: async (paths, guest) => {
    const missing: string[] = [];
    const observed: Record<string, string> = {};
    for (const p of paths) {
      const r = await guest.exec(['stat', '-c', '%F, owner %U, mode %a, modified %y', p], { root: true });
      observed[p] = r.code === 0 ? r.stdout.trim() : 'missing';
      if (r.code !== 0) missing.push(p);
    }
    return missing.length
      ? fail(`runcmd did not create ${missing.join(', ')}`, { expected: paths, observed })
      : pass(`runcmd created ${paths.join(', ')}`, { expected: paths, observed });
  },
});
