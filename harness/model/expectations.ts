import type { ConsoleCheckName } from './probe.ts';

/**
 * What a scenario expects cloud-init to have done. Each probe reads only its own field; a field
 * left undefined makes that probe "n/a" (as does the image's capability profile).
 */
export interface NicExpectation {
  mac: string;
  /** static: the address below must be configured (rendered and live); dhcp: a lease must be live;
   *  unconfigured: cloud-init must not have configured this NIC (e.g. 2nd NIC without network_data). */
  mode: 'static' | 'dhcp' | 'unconfigured';
  /** CIDR, for static. */
  address?: string;
  gateway?: string;
}

export interface Expectations {
  /** Short host name (`hostname`, /etc/hostname). */
  hostname?: string;
  /** Fully qualified name (`hostname -f`). */
  fqdn?: string;
  /** manage_etc_hosts: /etc/hosts maps the fqdn and short name to 127.0.1.1 (Debian) / 127.0.0.1. */
  etcHosts?: { fqdn: string; hostname: string };
  /** Public keys that must be in each user's ~/.ssh/authorized_keys. */
  authorizedKeys?: { user: string; keys: string[] }[];
  /** Users that must log in over SSH with this password (and be refused a wrong one). */
  passwordLogin?: { user: string; password: string }[];
  /** IANA zone, e.g. Asia/Shanghai: /etc/timezone and the /etc/localtime link. */
  timezone?: string;
  /** Paths runcmd must have created (the seed's `mkdir /yunshan`). */
  runcmdPaths?: string[];
  /** One entry per NIC, in QEMU order. */
  nics?: NicExpectation[];
  /** Datasource cloud-init must report (cloud-id / status detail). */
  datasource?: 'ConfigDrive' | 'OpenStack' | 'Ec2';
  /** Paths the guest must have fetched from the metadata service (metadata runs only). */
  metadataRequests?: string[];
  /** cloud-init status must be done with no errors; recoverable errors matching these are tolerated. */
  cleanBoot?: {
    allowedRecoverable?: string[];
    /** Deprecated user-data keys: listed as warnings (default), or a failure of user-data-schema. */
    deprecations?: 'warn' | 'fail';
  };
  /** Neutron cells with a metadata service: the proxy the guest's requests must come by. */
  metadataPath?: MetadataPathExpectation;
  failure?: FailureExpectation;
}

/**
 * The way a guest on a neutron network reaches 169.254.169.254: through the DHCP namespace's proxy
 * (a host route via the DHCP port) or the router namespace's (via the gateway).
 */
export interface MetadataPathExpectation {
  via: 'dhcp' | 'router';
  /** The next hop `ip route get 169.254.169.254` must show in the guest. */
  nextHop: string;
  /** The namespace of that proxy (for the summary; the request log names it too). */
  namespace?: string;
}

/** The failure modes a case can expect; each is judged by the console check of the same name. */
export const FAILURE_MODES = ['metadata-unreachable', 'no-datasource', 'hostname-not-from-metadata'] as const satisfies readonly ConsoleCheckName[];
export type FailureMode = (typeof FAILURE_MODES)[number];
export interface ConsoleNicExpectation {
  mac: string;
  state: 'no-address' | 'untouched' | 'address';
  /** CIDR or bare IP for 'address'. */
  address?: string;
}
/** A scenario meant to fail: judged from the serial console (SSH may be impossible). */
export interface FailureExpectation {
  modes: FailureMode[];
  nics?: ConsoleNicExpectation[];
  /** The name metadata WOULD have set; must NOT be the prompt's. */
  hostname?: string;
}
