import { probeAuthorizedKeys, probePasswordLogin } from './access.ts';
import { probeCleanBoot, probeDatasource } from './cloud-init.ts';
import type { ProbeContext } from './context.ts';
import { errorVerdict, type ProbeFn } from './define.ts';
import { probeEtcHosts, probeHostname } from './identity.ts';
import { probeMetadataPath, probeMetadataRequests } from './metadata.ts';
import { probeMultiNic, probeNicMode } from './network.ts';
import { probeRuncmd, probeTimezone } from './system.ts';
import { probeUserDataSchema } from './user-data-schema.ts';
import { PROBE_NAMES, type ProbeName, type ProbeVerdict } from '../model/probe.ts';

/** Every probe, each declared with defineProbe (harness/probes/define.ts). */
export const PROBES: Record<ProbeName, ProbeFn> = {
  hostname: probeHostname,
  'etc-hosts': probeEtcHosts,
  'authorized-keys': probeAuthorizedKeys,
  'password-login': probePasswordLogin,
  timezone: probeTimezone,
  runcmd: probeRuncmd,
  'nic-mode': probeNicMode,
  'multi-nic': probeMultiNic,
  'clean-boot': probeCleanBoot,
  'user-data-schema': probeUserDataSchema,
  datasource: probeDatasource,
  'metadata-requests': probeMetadataRequests,
  'metadata-path': probeMetadataPath,
};

/**
 * Runs the probes in PROBE_NAMES order, one at a time (they share one SSH connection). A probe
 * that cannot run (lost connection, a timeout, output it could not read) yields an `error`
 * verdict saying so — never a pass, and never a fail, which would blame the guest. defineProbe
 * turns its exceptions into that verdict; the catch here only guards a probe not built with it.
 */
export async function runProbes(ctx: ProbeContext, only: readonly ProbeName[] = PROBE_NAMES): Promise<ProbeVerdict[]> {
  const verdicts: ProbeVerdict[] = [];
  for (const name of only) {
    const started = Date.now();
    try {
      verdicts.push(await PROBES[name](ctx));
    } catch (err) {
      verdicts.push({ ...errorVerdict(name, err), durationMs: Date.now() - started });
    }
  }
  return verdicts;
}
