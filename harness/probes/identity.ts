import { defineProbe, fail, judge, pass } from './define.ts';

/** `hostname`, /etc/hostname and `hostname -f` against the expected short name and fqdn. */
export const probeHostname = defineProbe('hostname', {
  expects: ({ hostname, fqdn }) =>
    hostname !== undefined || fqdn !== undefined ? { ...(hostname !== undefined ? { hostname } : {}), ...(fqdn !== undefined ? { fqdn } : {}) } : undefined,
  run: async (expected, guest, ctx) => {
    const { hostname } = expected;
    const fqdn = ctx.image.resolvesFqdn === false ? undefined : expected.fqdn;
    const live = (await guest.succeed(['hostname'])).trim();
    const file = ((await guest.readFile('/etc/hostname')) ?? '').trim();
    // `hostname -f` fails when the name does not resolve: that is the guest's answer, judged below.
    const full = ctx.image.resolvesFqdn === false ? '(not asked on this image)' : (await guest.exec(['hostname', '-f'])).stdout.trim();
    const observed = { hostname: live, etcHostname: file, fqdn: full };
    const problems: string[] = [];
    if (hostname !== undefined) {
      if (live !== hostname) problems.push(`hostname is "${live}", expected "${hostname}"`);
      if (file !== hostname) problems.push(`/etc/hostname says "${file}", expected "${hostname}"`);
    }
    if (fqdn !== undefined && full !== fqdn) problems.push(`hostname -f is "${full}", expected "${fqdn}"`);
    return judge(problems, `hostname ${live}, /etc/hostname ${file}, fqdn ${full}`, { expected, observed });
  },
});

/** The /etc/hosts line manage_etc_hosts writes: 127.0.1.1 (Debian) or 127.0.0.1, fqdn then short name. */
export function findHostsEntry(hosts: string, fqdn: string, hostname: string): string | undefined {
  return hosts
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .find((l) => {
      const [addr, ...names] = l.split(/\s+/);
      return (addr === '127.0.1.1' || addr === '127.0.0.1') && names.includes(fqdn) && names.includes(hostname);
    });
}

export const probeEtcHosts = defineProbe('etc-hosts', {
  expects: (e) => e.etcHosts,
  run: async (exp, guest) => {
    const hosts = (await guest.readFile('/etc/hosts')) ?? '';
    const line = findHostsEntry(hosts, exp.fqdn, exp.hostname);
    return line
      ? pass(`/etc/hosts maps the name: "${line}"`, { expected: exp, observed: line })
      : fail(`/etc/hosts has no 127.0.1.1/127.0.0.1 line naming both ${exp.fqdn} and ${exp.hostname}`, { expected: exp, observed: hosts });
  },
});
