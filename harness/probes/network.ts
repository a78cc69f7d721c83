import type { NicExpectation } from '../model/expectations.ts';
import { addressOf } from '../util/ipv4.ts';
import { Evidence, notApplicable, verdict, type ProbeContext } from './context.ts';
import {
  parseDefaultRoutes,
  parseEni,
  parseIpAddr,
  parseLeases,
  parseNetplan,
  type DefaultRoute,
  type Lease,
  type LiveIface,
  type RenderedNic,
} from './network-state.ts';
import type { ProbeName, ProbeVerdict } from '../model/probe.ts';

export const RENDERED_CONFIG: Record<'eni' | 'netplan', string> = {
  eni: '/etc/network/interfaces.d/50-cloud-init',
  netplan: '/etc/netplan/50-cloud-init.yaml',
};

const LEASE_DUMP =
  'for f in /var/lib/dhcp/*.leases /run/systemd/netif/leases/*; do [ -f "$f" ] && { echo "==> $f"; cat "$f"; }; done; true';

/** Everything the NIC probes look at, read once per probe (and kept as evidence). */
export interface NetworkState {
  renderer: 'eni' | 'netplan' | 'none';
  rendered?: Map<string, RenderedNic & { mac?: string }>;
  renderedMissing?: boolean;
  live: LiveIface[];
  routes: DefaultRoute[];
  leases: Lease[];
}

export async function readNetworkState(ctx: ProbeContext, ev: Evidence): Promise<NetworkState> {
  const renderer = ctx.image.networkRenderer;
  const state: NetworkState = { renderer, live: [], routes: [], leases: [] };
  if (renderer !== 'none') {
    const r = await ev.run(ctx, `cat ${RENDERED_CONFIG[renderer]}`, { root: true });
    if (r.code !== 0) state.renderedMissing = true;
    else state.rendered = renderer === 'eni' ? parseEni(r.stdout) : parseNetplan(r.stdout);
  }
  state.live = parseIpAddr((await ev.run(ctx, 'ip -j addr show')).stdout || '[]');
  state.routes = parseDefaultRoutes((await ev.run(ctx, 'ip -j route show')).stdout || '[]');
  state.leases = parseLeases((await ev.run(ctx, LEASE_DUMP, { root: true })).stdout);
  return state;
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
  return state.leases.find((l) => (l.iface === iface.ifname || l.ifindex === iface.ifindex) && l.addresses.includes(ip));
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
    if (!addr) p.push(`${where}: no live IPv4 address`);
    else if (!addr.dynamic && !leaseFor(state, iface, addr.cidr)) {
      p.push(`${where}: ${addr.cidr} is neither a dynamic address nor found in a DHCP lease file`);
    } else finding.live += leaseFor(state, iface, addr.cidr) ? ` (lease ${leaseFor(state, iface, addr.cidr)!.file})` : '';
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

async function nicVerdict(probe: ProbeName, ctx: ProbeContext, nics: NicExpectation[], label: string): Promise<ProbeVerdict> {
  const unsupported = nics.find((n) => n.mode !== 'unconfigured' && !ctx.image.nicModes.includes(n.mode));
  if (unsupported) return verdict(probe, 'n/a', `this image cannot apply a ${unsupported.mode} NIC from network_data.json (capabilities.nic_modes)`);
  const ev = new Evidence();
  const state = await readNetworkState(ctx, ev);
  const findings = nics.map((n) => checkNic(state, n));
  const problems = findings.flatMap((f) => f.problems);
  const observed = findings.map(describe);
  const expected = nics.map((n) => `${n.mac}: ${n.mode}${n.address ? ` ${n.address}` : ''}${n.gateway ? ` gw ${n.gateway}` : ''}`);
  return problems.length
    ? verdict(probe, 'fail', problems.join('; '), { expected, observed, evidence: ev })
    : verdict(probe, 'pass', `${label}: ${observed.join(' | ')}`, { expected, observed, evidence: ev });
}

/** The first NIC: rendered config and live state both say what the scenario asked for. */
export async function probeNicMode(ctx: ProbeContext): Promise<ProbeVerdict> {
  const nics = ctx.expectations.nics;
  const na = notApplicable('nic-mode', ctx, nics);
  if (na || !nics?.[0]) return na!;
  return nicVerdict('nic-mode', ctx, [nics[0]], 'first NIC');
}

/**
 * The other NICs: with network_data.json (config drive, OpenStack API) cloud-init configures
 * every NIC; without it (fallback) only the first, so the others must stay unconfigured.
 */
export async function probeMultiNic(ctx: ProbeContext): Promise<ProbeVerdict> {
  const nics = ctx.expectations.nics;
  const capNa = notApplicable('multi-nic', ctx, nics);
  if (capNa) return capNa;
  if (!nics || nics.length < 2) return verdict('multi-nic', 'n/a', 'the scenario has a single NIC');
  return nicVerdict('multi-nic', ctx, nics.slice(1), `NICs 2..${nics.length}`);
}
