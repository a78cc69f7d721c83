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
 * Runs the probes all at once and returns their verdicts in PROBE_NAMES order. They only read the
 * guest, each through its own recording view, so none depends on another; at once, their commands
 * reach the guest in rounds that a batching transport (harness/ssh/batch.ts) sends as one script
 * each, and the password logins (each paying sshd's failure delay) overlap with the rest. A probe
 * that cannot run (lost connection, a timeout, output it could not read) yields an `error` verdict
 * saying so — never a pass, and never a fail, which would blame the guest. defineProbe turns its
 * exceptions into that verdict; the catch here only guards a probe not built with it.
 */
export function runProbes(ctx: ProbeContext, only: readonly ProbeName[] = PROBE_NAMES): Promise<ProbeVerdict[]> {
  return Promise.all(
    only.map(async (name) => {
      const started = Date.now();
      try {
        return await PROBES[name](ctx);
      } catch (err) {
        return { ...errorVerdict(name, err), durationMs: Date.now() - started };
      }
    }),
  );
}
