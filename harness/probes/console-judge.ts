import type { ConsoleNicExpectation, FailureExpectation } from '../model/expectations.ts';
import type { ConsoleCheckName, ProbeVerdict } from '../model/probe.ts';
import { ipv4RowsOf, parseConsole, type ConsoleEvidence } from './console-evidence.ts';
import type { MetadataRequest } from './context.ts';

/**
 * Judges a cell that is meant to fail (metadata unreachable, no address) from what the harness
 * can see without logging in: the serial console and, on neutron networks, the metadata agent's
 * own log. Each expected failure mode becomes one verdict, the NICs' state another.
 *
 * A verdict says what it saw: pass when the console shows the failure as expected, fail when it
 * shows the opposite (the guest got metadata, a real datasource, the metadata host name, an
 * address it should not have), error when the console does not show enough to say (cloud-init
 * never printed its final message, no getty prompt, no net table): the harness could not look.
 */
export interface ConsoleJudgeInput {
  /** The whole serial log. */
  console: string;
  expected: FailureExpectation;
  /** Requests the metadata agent (or service) logged for this instance; undefined when none ran. */
  metadataRequests?: MetadataRequest[];
}

type Status = ProbeVerdict['status'];

function verdict(probe: ConsoleCheckName, status: Status, summary: string, evidence: Record<string, string>, extra: Pick<ProbeVerdict, 'expected' | 'observed'> = {}): ProbeVerdict {
  return { probe, status, summary, ...extra, evidence };
}

const answered = (r: MetadataRequest) => r.status >= 200 && r.status < 300;

function requestLog(requests: MetadataRequest[] | undefined): string {
  if (!requests) return '(no metadata agent in this run)';
  return requests.map((r) => `${r.method} ${r.path} → ${r.status}${r.via ? ` via ${r.via}` : ''}`).join('\n') || '(no requests)';
}

function routeTable(ev: ConsoleEvidence): string {
  return ev.routes.map((r) => `${r.destination}/${r.genmask} via ${r.gateway} dev ${r.interface} ${r.flags}`).join('\n') || '(no route table)';
}

function finishedLine(ev: ConsoleEvidence): string {
  return ev.finished?.line ?? '(cloud-init never printed its final message)';
}

function judgeMetadataUnreachable(ev: ConsoleEvidence, requests: MetadataRequest[] | undefined): ProbeVerdict {
  const served = (requests ?? []).filter(answered);
  const evidence = {
    'console: calls to 169.254.169.254 that failed': ev.metadataFailures.join('\n') || '(none)',
    'metadata agent request log': requestLog(requests),
    'console: Route IPv4 info (where 169.254.169.254 would go)': routeTable(ev),
    'console: final message': finishedLine(ev),
  };
  const observed = { failedCalls: ev.metadataFailures.length, answeredRequests: served.length };
  if (served.length) {
    return verdict('metadata-unreachable', 'fail', `the metadata agent answered ${served.length} request(s) from this guest (first: ${served[0]!.path})`, evidence, { observed });
  }
  // Until cloud-init finished, a later attempt could still have reached it.
  if (!ev.finished) return verdict('metadata-unreachable', 'error', `cloud-init never printed its final message (${ev.metadataFailures.length} failed call(s) to 169.254.169.254 so far): whether it stayed unreachable is unknown`, evidence, { observed });
  if (ev.metadataFailures.length) {
    return verdict('metadata-unreachable', 'pass', `cloud-init's calls to 169.254.169.254 failed ${ev.metadataFailures.length} time(s) and no request was answered`, evidence, { observed });
  }
  // Finished, nothing answered, but no failed call either: cloud-init never tried (a datasource
  // list without OpenStack/EC2, or a detection that ruled them out). Not the failure expected.
  return verdict('metadata-unreachable', 'fail', 'cloud-init finished without trying 169.254.169.254 (no failed call on the console), so unreachability was never shown', evidence, { observed });
}

function judgeNoDatasource(ev: ConsoleEvidence): ProbeVerdict {
  const evidence = { 'console: final message': finishedLine(ev), 'console: fallback warning': ev.fallbackLine ?? '(none)' };
  if (!ev.finished) return verdict('no-datasource', 'error', 'cloud-init never printed its final message: the datasource it settled on is unknown', evidence);
  const ds = ev.finished.datasource;
  const observed = { datasource: ds };
  return /^DataSourceNone\b/.test(ds)
    ? verdict('no-datasource', 'pass', `cloud-init found no datasource and fell back to ${ds}`, evidence, { expected: 'DataSourceNone', observed })
    : verdict('no-datasource', 'fail', `cloud-init used ${ds}, not the fallback DataSourceNone`, evidence, { expected: 'DataSourceNone', observed });
}

function judgeHostname(ev: ConsoleEvidence, metadataHostname: string | undefined): ProbeVerdict {
  const evidence = { 'console: login prompt': ev.loginPrompt?.line ?? '(no login prompt)' };
  if (!metadataHostname) return verdict('hostname-not-from-metadata', 'n/a', 'the case names no host name that metadata would have set', evidence);
  if (!ev.loginPrompt) return verdict('hostname-not-from-metadata', 'error', 'no getty login prompt on the console: the host name the guest ended with is unknown', evidence);
  const shown = ev.loginPrompt.hostname;
  const short = metadataHostname.split('.')[0]!;
  const observed = { hostname: shown };
  return shown === metadataHostname || shown === short
    ? verdict('hostname-not-from-metadata', 'fail', `the login prompt shows ${shown}, the host name metadata carries: metadata did reach the guest`, evidence, { expected: `not ${short}`, observed })
    : verdict('hostname-not-from-metadata', 'pass', `the login prompt shows ${shown}, not ${short} from metadata`, evidence, { expected: `not ${short}`, observed });
}

function nicProblem(ev: ConsoleEvidence, nic: ConsoleNicExpectation): string | undefined {
  const rows = ipv4RowsOf(ev, nic.mac);
  const all = ev.netDevices.filter((r) => r.hwAddress === nic.mac.toLowerCase());
  if (!all.length) return `${nic.mac}: not in the net table`;
  const addresses = rows.map((r) => r.address).filter((a) => a !== '.');
  const device = all[0]!.device;
  switch (nic.state) {
    case 'no-address':
      return addresses.length ? `${device} (${nic.mac}) has ${addresses.join(', ')}, expected no IPv4 address` : undefined;
    case 'untouched':
      if (addresses.length) return `${device} (${nic.mac}) has ${addresses.join(', ')}, expected it untouched`;
      return all.some((r) => r.up) ? `${device} (${nic.mac}) is up, expected it untouched (down)` : undefined;
    case 'address': {
      const want = nic.address?.split('/')[0];
      if (!want) return addresses.length ? undefined : `${device} (${nic.mac}) has no IPv4 address`;
      return addresses.includes(want) ? undefined : `${device} (${nic.mac}) has ${addresses.join(', ') || 'no IPv4 address'}, expected ${want}`;
    }
  }
}

function judgeNics(ev: ConsoleEvidence, nics: ConsoleNicExpectation[] | undefined): ProbeVerdict {
  const table = ev.netDevices.map((r) => `${r.device} up=${r.up} ${r.address}/${r.mask} ${r.scope} ${r.hwAddress}`).join('\n');
  const evidence = {
    'console: Net device info (last table)': table || '(no table)',
    'console: Route IPv4 info': routeTable(ev),
    'console: cloud-init bringing NICs up': ev.activations.join('\n') || '(none)',
  };
  if (!nics?.length) return verdict('nic-state', 'n/a', 'the case expects nothing of the NICs', evidence);
  if (!ev.netDevices.length) return verdict('nic-state', 'error', 'cloud-init printed no "Net device info" table: the NICs\' state is unknown', evidence, { expected: nics });
  const problems = nics.map((n) => nicProblem(ev, n)).filter((p): p is string => p !== undefined);
  const observed = Object.fromEntries(nics.map((n) => [n.mac, ipv4RowsOf(ev, n.mac).map((r) => r.address).join(', ') || 'absent']));
  const want = nics.map((n) => `${n.mac} ${n.state}${n.address ? ` ${n.address}` : ''}`).join(', ');
  return problems.length
    ? verdict('nic-state', 'fail', problems.join('; '), evidence, { expected: nics, observed })
    : verdict('nic-state', 'pass', `as expected in cloud-init's net table: ${want}`, evidence, { expected: nics, observed });
}

/** One verdict per expected failure mode, then nic-state; n/a for modes the case does not expect. */
export function judgeFromConsole(input: ConsoleJudgeInput): ProbeVerdict[] {
  const ev = parseConsole(input.console);
  const modes = new Set(input.expected.modes);
  const notExpected = (probe: ConsoleCheckName): ProbeVerdict => ({ probe, status: 'n/a', summary: 'the case does not expect this failure' });
  return [
    modes.has('metadata-unreachable') ? judgeMetadataUnreachable(ev, input.metadataRequests) : notExpected('metadata-unreachable'),
    modes.has('no-datasource') ? judgeNoDatasource(ev) : notExpected('no-datasource'),
    modes.has('hostname-not-from-metadata') ? judgeHostname(ev, input.expected.hostname) : notExpected('hostname-not-from-metadata'),
    judgeNics(ev, input.expected.nics),
  ];
}
