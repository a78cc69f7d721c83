import { probeAuthorizedKeys, probePasswordLogin } from './access.ts';
import { probeCleanBoot, probeDatasource } from './cloud-init.ts';
import { verdict, type ProbeContext } from './context.ts';
import { probeEtcHosts, probeHostname } from './identity.ts';
import { probeMetadataRequests } from './metadata.ts';
import { probeMultiNic, probeNicMode } from './network.ts';
import { probeRuncmd, probeTimezone } from './system.ts';
import { PROBE_NAMES, type ProbeName, type ProbeVerdict } from '../model/probe.ts';

export const PROBES: Record<ProbeName, (ctx: ProbeContext) => Promise<ProbeVerdict>> = {
  hostname: probeHostname,
  'etc-hosts': probeEtcHosts,
  'authorized-keys': probeAuthorizedKeys,
  'password-login': probePasswordLogin,
  timezone: probeTimezone,
  runcmd: probeRuncmd,
  'nic-mode': probeNicMode,
  'multi-nic': probeMultiNic,
  'clean-boot': probeCleanBoot,
  datasource: probeDatasource,
  'metadata-requests': probeMetadataRequests,
};

/**
 * Runs every probe in PROBE_NAMES order, one at a time (they share one SSH connection). A probe
 * that throws (lost connection, bad output) yields a fail verdict saying so, never a pass.
 */
export async function runProbes(ctx: ProbeContext, only: readonly ProbeName[] = PROBE_NAMES): Promise<ProbeVerdict[]> {
  const verdicts: ProbeVerdict[] = [];
  for (const name of only) {
    const started = Date.now();
    let v: ProbeVerdict;
    try {
      v = await PROBES[name](ctx);
    } catch (err) {
      v = verdict(name, 'fail', `probe error: ${(err as Error).message}`);
    }
    verdicts.push({ ...v, durationMs: Date.now() - started });
  }
  return verdicts;
}
