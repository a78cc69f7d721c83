import { defineProbe, fail, notApplicable, pass } from './define.ts';

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
