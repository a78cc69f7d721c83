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
  cleanBoot?: { allowedRecoverable?: string[] };
}
