/**
 * The network backend registry: how a cell's NICs reach the host. One entry per backend; the
 * module that sets it up lives in harness/network/<kind>.ts and is looked up by this kind
 * (harness/network/index.ts). Adding a backend is one entry here plus its module.
 */

export const NETWORK_BACKEND_KINDS = ['user', 'neutron'] as const;
export type NetworkBackendKind = (typeof NETWORK_BACKEND_KINDS)[number];

export interface NetworkBackendDef {
  kind: NetworkBackendKind;
  /** One line for `--help`, `doctor` and reports. */
  description: string;
  /** Needs root (network namespaces, taps): cells on it are skipped where it is missing. */
  needsRoot: boolean;
  /** Whether the backend can switch a subnet's DHCP off (slirp cannot). */
  dhcpOptional: boolean;
}

export const NETWORK_BACKENDS: Readonly<Record<NetworkBackendKind, NetworkBackendDef>> = {
  user: {
    kind: 'user',
    description: 'QEMU user networking (libslirp): one slirp network per NIC, SSH by hostfwd, the metadata service by guestfwd',
    needsRoot: false,
    dhcpOptional: false,
  },
  neutron: {
    kind: 'neutron',
    description:
      'neutron as its agents build it: a segment namespace with a bridge per network and the VM taps, qdhcp (dnsmasq, the dhcp-agent metadata proxy) and qrouter (iptables REDIRECT, the l3-agent proxy) namespaces, the metadata agent on a unix socket',
    needsRoot: true,
    dhcpOptional: true,
  },
};
