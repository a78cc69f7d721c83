import { defineProbe, fail, judge, notApplicable, pass } from './define.ts';

/**
 * Whether a requested path satisfies an expected one. `/openstack/latest/…` stands for whichever
 * version the guest chose: cloud-init 22.4 asks for the newest version it knows that the service
 * lists (2018-08-27), not `latest`. Likewise `/latest/meta-data/…` matches a dated EC2 version.
 */
export function metadataPathMatches(expected: string, requested: string): boolean {
  if (expected === requested) return true;
  const os = /^\/openstack\/latest(\/.*)$/.exec(expected);
  if (os) return new RegExp(`^/openstack/(latest|\\d{4}-\\d{2}-\\d{2})${escape(os[1]!)}$`).test(requested);
  const ec2 = /^\/latest(\/.*)$/.exec(expected);
  if (ec2) return new RegExp(`^/(latest|\\d{4}-\\d{2}-\\d{2}|1\\.0)${escape(ec2[1]!)}$`).test(requested);
  return false;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The metadata service must have served each expected path to this instance (2xx). */
export const probeMetadataRequests = defineProbe('metadata-requests', {
  expects: (e) => e.metadataRequests,
  run: async (exp, guest, ctx) => {
    if (!ctx.metadataRequests) return notApplicable('no metadata service in this run (config drive)');
    const requests = ctx.metadataRequests();
    // The host's side of the conversation: the guest's own commands cannot show it.
    guest.note('metadata service request log', requests.map((r) => `${r.method} ${r.path} → ${r.status}`).join('\n') || '(no requests)');
    const servedAs = (p: string) => requests.find((r) => metadataPathMatches(p, r.path) && r.status >= 200 && r.status < 300)?.path;
    const missing = exp.filter((p) => !servedAs(p));
    const observed = Object.fromEntries(exp.map((p) => [p, servedAs(p) ?? 'never served']));
    const count = `${requests.length} request(s) in all`;
    return missing.length
      ? fail(`the guest never fetched ${missing.join(', ')} successfully (${count})`, { expected: exp, observed })
      : pass(`the guest fetched ${exp.map((p) => servedAs(p)).join(', ')} (${count})`, { expected: exp, observed });
  },
});

/** The next hop in `ip route get` output: `169.254.169.254 via 172.16.11.2 dev eth0 src …`; undefined when on-link. */
export function routeGetNextHop(output: string): string | undefined {
  return /\bvia\s+(\d{1,3}(?:\.\d{1,3}){3})\b/.exec(output)?.[1];
}

/**
 * On a neutron network: the guest's route to 169.254.169.254 must lead to the proxy that serves
 * it (the DHCP port by the host route DHCP pushed, or the router's gateway), and every request the
 * metadata agent answered must have come through that proxy's namespace (when both agents serve,
 * the DHCP route wins and the router sees nothing).
 */
export const probeMetadataPath = defineProbe('metadata-path', {
  expects: (e) => e.metadataPath,
  run: async (exp, guest, ctx) => {
    if (!ctx.metadataRequests) return notApplicable('no metadata service in this run (config drive)');
    const route = await guest.succeed(['ip', 'route', 'get', '169.254.169.254']);
    await guest.exec(['ip', 'route', 'show']);
    const hop = routeGetNextHop(route) ?? 'on-link';
    const requests = ctx.metadataRequests();
    guest.note('metadata agent request log', requests.map((r) => `${r.method} ${r.path} → ${r.status} via ${r.via ?? '?'} (${r.namespace ?? '?'})`).join('\n') || '(no requests)');
    const answered = requests.filter((r) => r.status >= 200 && r.status < 300);
    const by = (via: string) => answered.filter((r) => r.via === via).length;
    const observed = { nextHop: hop, dhcp: by('dhcp'), router: by('router'), other: answered.length - by('dhcp') - by('router') };
    const problems: string[] = [];
    if (hop !== exp.nextHop) problems.push(`the guest routes 169.254.169.254 via ${hop}, not via ${exp.nextHop}`);
    if (answered.length === 0) problems.push('the metadata agent answered no request from this guest');
    const wrong = answered.length - by(exp.via);
    if (wrong > 0) problems.push(`${wrong} of ${answered.length} answered requests came by another path than the ${exp.via === 'dhcp' ? 'DHCP' : 'router'} namespace`);
    const where = exp.via === 'dhcp' ? 'the DHCP namespace (dhcp-agent)' : 'the router namespace (l3-agent)';
    return judge(problems, `169.254.169.254 via ${hop}; all ${answered.length} answered requests came through ${where}`, { expected: exp, observed });
  },
});
