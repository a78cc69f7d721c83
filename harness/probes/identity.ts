import { Evidence, notApplicable, verdict, type ProbeContext } from './context.ts';
import type { ProbeVerdict } from '../model/probe.ts';

/** `hostname`, /etc/hostname and `hostname -f` against the expected short name and fqdn. */
export async function probeHostname(ctx: ProbeContext): Promise<ProbeVerdict> {
  const { hostname, fqdn } = ctx.expectations;
  const na = notApplicable('hostname', ctx, hostname ?? fqdn);
  if (na) return na;
  const ev = new Evidence();
  const live = (await ev.run(ctx, 'hostname')).stdout.trim();
  const file = (await ev.run(ctx, 'cat /etc/hostname')).stdout.trim();
  const full = (await ev.run(ctx, 'hostname -f')).stdout.trim();
  const observed = { hostname: live, etcHostname: file, fqdn: full };
  const problems: string[] = [];
  if (hostname !== undefined) {
    if (live !== hostname) problems.push(`hostname is "${live}", expected "${hostname}"`);
    if (file !== hostname) problems.push(`/etc/hostname says "${file}", expected "${hostname}"`);
  }
  if (fqdn !== undefined && full !== fqdn) problems.push(`hostname -f is "${full}", expected "${fqdn}"`);
  const expected = { ...(hostname !== undefined ? { hostname } : {}), ...(fqdn !== undefined ? { fqdn } : {}) };
  return problems.length
    ? verdict('hostname', 'fail', problems.join('; '), { expected, observed, evidence: ev })
    : verdict('hostname', 'pass', `hostname ${live}, /etc/hostname ${file}, fqdn ${full}`, { expected, observed, evidence: ev });
}

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

export async function probeEtcHosts(ctx: ProbeContext): Promise<ProbeVerdict> {
  const exp = ctx.expectations.etcHosts;
  const na = notApplicable('etc-hosts', ctx, exp);
  if (na || !exp) return na!;
  const ev = new Evidence();
  const hosts = (await ev.run(ctx, 'cat /etc/hosts')).stdout;
  const line = findHostsEntry(hosts, exp.fqdn, exp.hostname);
  return line
    ? verdict('etc-hosts', 'pass', `/etc/hosts maps the name: "${line}"`, { expected: exp, observed: line, evidence: ev })
    : verdict('etc-hosts', 'fail', `/etc/hosts has no 127.0.1.1/127.0.0.1 line naming both ${exp.fqdn} and ${exp.hostname}`, { expected: exp, observed: hosts, evidence: ev });
}
