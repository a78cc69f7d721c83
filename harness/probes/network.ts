import type { NicExpectation } from '../model/expectations.ts';
import type { Guest } from '../ssh/guest.ts';
import type { ProbeContext } from './context.ts';
import { defineProbe, judge, notApplicable, type Judgement } from './define.ts';
import { addressOf } from '../util/ipv4.ts';
import {
  parseDefaultRoutes,
  parseDefaultRoutesText,
  parseEni,
  parseIpAddr,
  parseIpAddrText,
  parseProcNetRoute,
  parseLeases,
  parseNetplan,
  type DefaultRoute,
  type Lease,
  type LiveIface,
  type RenderedNic,
} from './network-state.ts';

export const RENDERED_CONFIG: Record<'eni' | 'netplan', string> = {
  eni: '/etc/network/interfaces.d/50-cloud-init',
  netplan: '/etc/netplan/50-cloud-init.yaml',
};

// Lease files (dhclient, networkd), then the DHCP clients still running with their command lines:
// BusyBox's udhcpc (Cirros, the fixture) keeps its lease in memory only. Matched on the program's
// name (/proc/<pid>/comm, read by the shell itself) so the shell running this loop, whose own
// command line names them, is not one — and so that only the clients cost a `tr`: one fork per
// process took ~15 s under TCG.
const LEASE_DUMP =
  'for f in /var/lib/dhcp/*.leases /run/systemd/netif/leases/*; do [ -f "$f" ] && { echo "==> $f"; cat "$f"; }; done; ' +
  'for p in /proc/[0-9]*; do read -r n 2>/dev/null < "$p/comm" || continue; case "$n" in udhcpc|dhclient|dhcpcd) echo "==> dhcp-client ${p#/proc/}"; tr "\\000" " " < "$p/cmdline" 2>/dev/null; echo;; esac; done; true';

/** Everything the NIC probes look at, read once per probe (and kept as evidence). */
export interface NetworkState {
  renderer: 'eni' | 'netplan' | 'none';
  rendered?: Map<string, RenderedNic & { mac?: string }>;
  renderedMissing?: boolean;
  live: LiveIface[];
  routes: DefaultRoute[];
  leases: Lease[];
}

export async function readNetworkState(guest: Guest, renderer: NetworkState['renderer']): Promise<NetworkState> {
  const state: NetworkState = { renderer, live: [], routes: [], leases: [] };
  if (renderer !== 'none') {
    const text = await guest.readFile(RENDERED_CONFIG[renderer], { root: true });
    if (text === undefined) state.renderedMissing = true;
    else state.rendered = renderer === 'eni' ? parseEni(text) : parseNetplan(text);
  }
  // The live state must be readable: without it there is nothing to judge. iproute2's JSON
  // first; BusyBox's `ip` (Cirros, the fixture) has no -j, so its text form, then /proc.
  state.live = await readWithFallback(guest, ['ip', '-j', 'addr', 'show'], parseIpAddr, [['ip', 'addr', 'show'], parseIpAddrText]);
  state.routes = await readWithFallback(guest, ['ip', '-j', 'route', 'show'], parseDefaultRoutes, [['ip', 'route', 'show'], parseDefaultRoutesText], [['cat', '/proc/net/route'], parseProcNetRoute]);
  state.leases = parseLeases((await guest.exec({ shell: LEASE_DUMP }, { root: true })).stdout);
  return state;
}

/**
 * Runs the JSON form; when it fails or is not JSON (an `ip` without -j prints its usage), each
 * fallback in turn. Every command run stays in the evidence, so a reader sees which one answered.
 * Only when none answers is it an error (the guest could not be looked at).
 */
async function readWithFallback<T>(guest: Guest, json: string[], parseJson: (s: string) => T, ...fallbacks: [string[], (s: string) => T][]): Promise<T> {
  const first = await guest.exec(json);
  if (first.code === 0 && /^\s*\[/.test(first.stdout)) return parseJson(first.stdout);
  const failures = [`${json.join(' ')}: exit ${first.code}`];
  for (const [cmd, parse] of fallbacks) {
    const r = await guest.exec(cmd);
    if (r.code === 0 && r.stdout.trim()) return parse(r.stdout);
    failures.push(`${cmd.join(' ')}: exit ${r.code}`);
  }
  throw new Error(`the guest's network state could not be read (${failures.join('; ')})`);
}

/** What one NIC looks like, and whether that matches its expectation. */
export interface NicFinding {
  mac: string;
  expected: NicExpectation['mode'];
  ifname?: string;
  rendered?: string;
  live: string;
  problems: string[];
}

function renderedFor(state: NetworkState, iface: LiveIface): (RenderedNic & { mac?: string }) | undefined {
  if (!state.rendered) return undefined;
  for (const nic of state.rendered.values()) if (nic.mac && nic.mac === iface.mac) return nic;
  return state.rendered.get(iface.ifname);
}

function leaseFor(state: NetworkState, iface: LiveIface, address: string): Lease | undefined {
  const ip = addressOf(address);
  return state.leases.find((l) => !l.client && (l.iface === iface.ifname || l.ifindex === iface.ifindex) && l.addresses.includes(ip));
}

/** A DHCP client running for the interface: the evidence of a DHCP address where no lease file is kept. */
function clientFor(state: NetworkState, iface: LiveIface): Lease | undefined {
  return state.leases.find((l) => l.client && l.iface === iface.ifname);
}

export function checkNic(state: NetworkState, exp: NicExpectation): NicFinding {
  const mac = exp.mac.toLowerCase();
  const iface = state.live.find((i) => i.mac === mac);
  const finding: NicFinding = { mac, expected: exp.mode, live: 'no such NIC', problems: [] };
  if (!iface) {
    finding.problems.push(`no interface with MAC ${mac} in the guest`);
    return finding;
  }
  finding.ifname = iface.ifname;
  const addrs = iface.inet.map((a) => `${a.cidr}${a.dynamic ? ' (dynamic)' : ''}`);
  finding.live = addrs.length ? addrs.join(', ') : 'no IPv4 address';
  const rendered = renderedFor(state, iface);
  const checkRendered = state.renderer !== 'none';
  finding.rendered = !checkRendered
    ? 'image has no renderer to check'
    : state.renderedMissing
      ? 'rendered config missing'
      : rendered
        ? `${rendered.method}${rendered.addresses.length ? ` ${rendered.addresses.join(',')}` : ''}${rendered.gateway ? ` gw ${rendered.gateway}` : ''}`
        : `no entry for ${iface.ifname}`;
  const p = finding.problems;
  const where = `${iface.ifname} (${mac})`;

  if (exp.mode === 'static') {
    const want = exp.address!;
    if (checkRendered) {
      if (!rendered) p.push(`${where}: rendered config has no entry (${finding.rendered})`);
      else {
        if (rendered.method !== 'static') p.push(`${where}: rendered config says ${rendered.method}, expected static`);
        if (!rendered.addresses.includes(want)) p.push(`${where}: rendered addresses ${JSON.stringify(rendered.addresses)} lack ${want}`);
        if (exp.gateway && rendered.gateway !== exp.gateway) p.push(`${where}: rendered gateway ${rendered.gateway ?? 'none'}, expected ${exp.gateway}`);
      }
    }
    const live = iface.inet.find((a) => a.cidr === want);
    if (!live) p.push(`${where}: live addresses ${finding.live}, expected ${want}`);
    else if (live.dynamic) p.push(`${where}: ${want} is configured but as a dynamic (DHCP) address`);
    if (leaseFor(state, iface, want)) p.push(`${where}: a DHCP lease exists for ${want}`);
    const others = iface.inet.filter((a) => a.cidr !== want);
    if (others.length) p.push(`${where}: extra addresses besides the static one: ${others.map((a) => a.cidr).join(', ')}`);
    if (exp.gateway && !state.routes.some((r) => r.gateway === exp.gateway && (!r.dev || r.dev === iface.ifname))) {
      p.push(`${where}: no default route via ${exp.gateway} (routes: ${JSON.stringify(state.routes)})`);
    }
  } else if (exp.mode === 'dhcp') {
    if (checkRendered) {
      if (!rendered) p.push(`${where}: rendered config has no entry (${finding.rendered})`);
      else if (rendered.method !== 'dhcp') p.push(`${where}: rendered config says ${rendered.method}, expected dhcp`);
    }
    const addr = iface.inet[0];
    const lease = addr && leaseFor(state, iface, addr.cidr);
    const client = clientFor(state, iface);
    if (!addr) p.push(`${where}: no live IPv4 address`);
    else if (!addr.dynamic && !lease && !client) {
      p.push(`${where}: ${addr.cidr} is neither a dynamic address nor found in a DHCP lease file, and no DHCP client runs for ${iface.ifname}`);
    } else finding.live += lease ? ` (lease ${lease.file})` : client ? ` (DHCP client: ${client.client})` : '';
  } else {
    if (checkRendered && rendered && (rendered.method === 'dhcp' || rendered.method === 'static')) {
      p.push(`${where}: expected unconfigured, but rendered config says ${rendered.method}`);
    }
    if (iface.inet.length) p.push(`${where}: expected unconfigured, but it has ${finding.live}`);
  }
  return finding;
}

function describe(f: NicFinding): string {
  return `${f.ifname ?? f.mac}: ${f.expected} — rendered ${f.rendered ?? 'n/a'}; live ${f.live}`;
}

async function nicJudgement(guest: Guest, ctx: ProbeContext, nics: NicExpectation[], label: string): Promise<Judgement> {
  const unsupported = nics.find((n) => n.mode !== 'unconfigured' && !ctx.image.nicModes.includes(n.mode));
  if (unsupported) return notApplicable(`this image cannot apply a ${unsupported.mode} NIC from network_data.json (capabilities.nic_modes)`);
  const state = await readNetworkState(guest, ctx.image.networkRenderer);
  const findings = nics.map((n) => checkNic(state, n));
  const observed = findings.map(describe);
  const expected = nics.map((n) => `${n.mac}: ${n.mode}${n.address ? ` ${n.address}` : ''}${n.gateway ? ` gw ${n.gateway}` : ''}`);
  return judge(
    findings.flatMap((f) => f.problems),
    `${label}: ${observed.join(' | ')}`,
    { expected, observed },
  );
}

/** The first NIC: rendered config and live state both say what the scenario asked for. */
export const probeNicMode = defineProbe('nic-mode', {
  expects: (e) => e.nics?.[0],
  run: (first, guest, ctx) => nicJudgement(guest, ctx, [first], 'first NIC'),
});

/**
 * The other NICs: with network_data.json (config drive, OpenStack API) cloud-init configures
 * every NIC; without it (fallback) only the first, so the others must stay unconfigured.
 */
export const probeMultiNic = defineProbe('multi-nic', {
  expects: (e) => e.nics,
  run: async (nics, guest, ctx) =>
    nics.length < 2 ? notApplicable('the scenario has a single NIC') : nicJudgement(guest, ctx, nics.slice(1), `NICs 2..${nics.length}`),
});
