import type { Plan } from '../model/cell.ts';
import type { NetworkBackendKind } from '../model/networks.ts';
import { neutronAvailability } from '../network/neutron/availability.ts';
import { sweepStale } from '../network/neutron/sweep.ts';
import { skipUnavailableBackends, type NetworkAvailability } from '../plan/planner.ts';

/**
 * Before any cell boots: the network backends the plan needs are checked (neutron: root, taps,
 * dnsmasq, haproxy, iptables — and a real throw-away namespace), cells on a backend that cannot
 * run here become skipped cells with the reason, and the leftovers of runs killed with SIGKILL
 * (their namespaces, daemons and sockets) are swept.
 */
export async function checkNetworkBackends(plan: Plan, opts: { log?: (line: string) => void; sweep?: boolean } = {}): Promise<Plan> {
  const log = opts.log ?? (() => {});
  const needed = new Set<NetworkBackendKind>(plan.cells.map((c) => c.networkBackend));
  if (!needed.has('neutron')) return plan;
  const unavailable: NetworkAvailability = {};
  const neutron = await neutronAvailability();
  if (!neutron.available) {
    unavailable.neutron = neutron.reasons.join('; ');
    log(`neutron cells skipped: ${unavailable.neutron}`);
    return skipUnavailableBackends(plan, unavailable);
  }
  if (opts.sweep ?? true) {
    const swept = await sweepStale();
    if (swept.namespaces.length || swept.socketDirs.length) {
      log(`swept leftovers of dead runs: ${swept.namespaces.length} namespace(s)${swept.killed.length ? `, ${swept.killed.length} process(es) killed` : ''}, ${swept.socketDirs.length} socket dir(s)`);
    }
    for (const e of swept.errors) log(`sweep: ${e}`);
  }
  return plan;
}
