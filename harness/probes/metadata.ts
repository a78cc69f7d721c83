import { Evidence, notApplicable, verdict, type ProbeContext } from './context.ts';
import type { ProbeVerdict } from './verdict.ts';

/** The metadata service must have served each expected path to this instance (2xx). */
export async function probeMetadataRequests(ctx: ProbeContext): Promise<ProbeVerdict> {
  const exp = ctx.expectations.metadataRequests;
  const na = notApplicable('metadata-requests', ctx, exp);
  if (na || !exp) return na!;
  if (!ctx.metadataRequests) return verdict('metadata-requests', 'n/a', 'no metadata service in this run (config drive)');
  const requests = ctx.metadataRequests();
  const ev = new Evidence();
  ev.note('metadata service request log', requests.map((r) => `${r.method} ${r.path} → ${r.status}`).join('\n') || '(no requests)');
  const served = (p: string) => requests.some((r) => r.path === p && r.status >= 200 && r.status < 300);
  const missing = exp.filter((p) => !served(p));
  const observed = `${requests.length} request(s)`;
  return missing.length
    ? verdict('metadata-requests', 'fail', `the guest never fetched ${missing.join(', ')} successfully (${observed})`, { expected: exp, observed, evidence: ev })
    : verdict('metadata-requests', 'pass', `the guest fetched all ${exp.length} expected path(s) among ${observed}`, { expected: exp, observed, evidence: ev });
}
