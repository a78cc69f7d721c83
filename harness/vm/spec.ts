import { offset } from '../util/ipv4.ts';

/**
 * A typed description of one QEMU guest. Everything the argv needs is here, so the argv builder
 * is a pure function and unit-testable without QEMU.
 */

export type Accel = 'kvm' | 'tcg';

/** How the guest boots: a BIOS disk image (GRUB inside), or a kernel+initrd given to QEMU. */
export type BootSpec =
  | { type: 'bios-disk'; disk: string; diskFormat?: 'qcow2' | 'raw' }
  | { type: 'kernel'; kernel: string; initrd?: string; cmdline: string; disk?: string; diskFormat?: 'qcow2' | 'raw' };

/** The config drive as nova attaches it: iso9660 as a cdrom, vfat as a (virtio) disk. */
export interface ConfigDriveAttachment {
  format: 'iso9660' | 'vfat';
  path: string;
}

/** One virtio-net NIC: on its own slirp network, or (with `tap`) on a tap device created beforehand. */
export interface NicSpec {
  mac: string;
  /**
   * A tap device (its ifname) in the VM's network namespace, created and bridged by the network
   * backend; QEMU only opens it (`script=no,downscript=no`). Without it the NIC is a slirp network.
   */
  tap?: string;
  /** slirp network in CIDR form (default 10.0.2.0/24). */
  net?: string;
  /** SSH port forward from 127.0.0.1:hostPort to guestAddress:22 (only on the NIC SSH goes through). */
  sshForward?: { hostPort: number; guestAddress: string };
  /** guestfwd to the metadata proxy: the guest's 169.254.169.254:80 → 127.0.0.1:proxyPort on the host. */
  metadataProxyPort?: number;
}

export interface VmSpec {
  name: string;
  accel: Accel;
  memoryMiB: number;
  cpus: number;
  boot: BootSpec;
  configDrive?: ConfigDriveAttachment;
  nics: NicSpec[];
  /** SMBIOS type 1 (default: as nova sets it); serial = uuid. EC2 cells differ: see matrix/smbios-identity.ts. */
  smbios?: { uuid: string; manufacturer?: string; product?: string; family?: string };
  serialLog: string;
  qmpSocket: string;
  /** Network namespace QEMU runs in (`ip netns exec <netns>`), where the NICs' taps are. */
  netns?: string;
  /** Exit instead of rebooting: a guest that panics (with panic=N) or reboots ends the run at once. */
  noReboot?: boolean;
}

export const METADATA_ADDRESS = '169.254.169.254';
/** slirp network for metadata-service runs: guestfwd needs 169.254.169.254 inside the user network. */
export const METADATA_NET = '169.254.169.0/24';
/** Default slirp network and the address its DHCP hands out first. */
export const DEFAULT_NET = '10.0.2.0/24';

/** The first address slirp's DHCP gives on `net` (network + 15), e.g. 10.0.2.15, 169.254.169.15. */
export function slirpDhcpAddress(net: string): string {
  return offset(net, 15);
}
