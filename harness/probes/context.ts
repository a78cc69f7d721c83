import type { Guest } from '../ssh/guest.ts';
import type { Expectations } from '../model/expectations.ts';
import type { ProbeName } from '../model/probe.ts';

/** One request the metadata service saw for this instance. */
export interface MetadataRequest {
  method: string;
  path: string;
  status: number;
  /** On neutron networks: the proxy it came by (`dhcp`: qdhcp, `router`: qrouter) and its namespace. */
  via?: string;
  namespace?: string;
}

/**
 * What a probe may use. The cell runner builds it from the booted VM; probes know nothing of
 * QEMU, so the data flows one way (VM → probes).
 */
export interface ProbeContext {
  /**
   * The guest, logged in as the image's default user. Each probe runs against its own recording
   * view of it (defineProbe), so its evidence is what it ran; this one records nothing.
   */
  guest: Guest;
  /** The forwarded SSH endpoint, for probes that open their own connections (password login). */
  ssh: { host: string; port: number; user: string };
  image: {
    /** Probes that do not apply to this image, with the reason (the manifest's capability profile). */
    notApplicable: Partial<Record<ProbeName, string>>;
    nicModes: ('dhcp' | 'static')[];
    networkRenderer: 'eni' | 'netplan' | 'none';
    /** Where the datasource the guest used is read (cloud-init's result.json, or Cirros's dsname). */
    datasourceSource?: 'cloud-init' | 'cirros';
    /** false: `hostname -f` is not asked (Cirros: a DNS wait, and the name is cut at the dot anyway). */
    resolvesFqdn?: boolean;
  };
  expectations: Expectations;
  /** `cloud-init status --wait --format=json` as the boot's last stage saw it. */
  cloudInitStatus?: { exitCode: number | null; raw: string; json?: Record<string, unknown> };
  /** Requests the metadata service logged for this instance (metadata-service runs only). */
  metadataRequests?: () => MetadataRequest[];
}
