import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Names of everything the neutron backend creates on the host.
 *
 * Namespaces are host-global, so their names carry the owner: `cp<pid base 36>-<cell>-<role>`.
 * A run killed with SIGKILL cannot clean up; the next run reads the pid back out of the name and
 * sweeps namespaces whose owner is gone (sweep.ts), as work dirs are swept.
 *
 * Devices live inside those namespaces, so their names only need to be unique per namespace; they
 * follow neutron's linuxbridge driver, which an operator recognises: bridge `brq<network id>`,
 * bridge-side veth end or VM tap `tap<port id>`, DHCP port `ns-<port id>`, router port
 * `qr-<port id>` — each id cut to 11 characters, so every name fits IFNAMSIZ (15).
 */

/** Linux IFNAMSIZ minus the terminating NUL. */
export const IFNAME_MAX = 15;
const ID_CHARS = 11;

export type NamespaceRole = 'seg' | 'qdhcp' | 'qrouter' | 'qprobe' | 'vm';

/** Run prefix: `cp` + the owner's pid in base 36 (e.g. pid 4242 → `cp39u`). */
export function runPrefix(pid: number = process.pid): string {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`pid: ${pid} is not a process id`);
  return `cp${pid.toString(36)}`;
}

const CELL = /^[a-z0-9]{1,12}$/;
const NAMESPACE = /^cp([0-9a-z]{1,13})-([a-z0-9]{1,12})-(seg|(qdhcp|qrouter|qprobe|vm)-[0-9a-z]{8})$/;

/** A short, name-safe id for a cell label (6 hex characters of its sha256). */
export function shortId(text: string, length = 6): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, length);
}

/** A parsed namespace name: the owning pid, its cell and its role; undefined when not ours. */
export function parseNamespaceName(name: string): { pid: number; cell: string; role: NamespaceRole } | undefined {
  const m = NAMESPACE.exec(name);
  if (!m) return undefined;
  const pid = Number.parseInt(m[1]!, 36);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { pid, cell: m[2]!, role: (m[4] ?? m[3]) as NamespaceRole };
}

/** Directory prefix (under the system temp dir) of a cell's unix sockets. */
export const SOCKET_DIR_PREFIX = 'cloudprobe-net-';

/** The owning pid of a socket dir name (`cloudprobe-net-cp<pid>-<cell>`), undefined when not ours. */
export function parseSocketDirName(name: string): { pid: number; cell: string } | undefined {
  const m = /^cloudprobe-net-cp([0-9a-z]{1,13})-([a-z0-9]{1,12})$/.exec(name);
  if (!m) return undefined;
  const pid = Number.parseInt(m[1]!, 36);
  return Number.isSafeInteger(pid) && pid > 0 ? { pid, cell: m[2]! } : undefined;
}

function idPart(id: string, length: number): string {
  const part = id.toLowerCase().replace(/[^0-9a-z-]/g, '').slice(0, length);
  if (part.length === 0) throw new Error(`id "${id}" gives an empty name part`);
  return part;
}

/** Every host-visible name of one cell's topology. */
export class CellNames {
  readonly prefix: string;

  constructor(
    readonly cell: string,
    readonly pid: number = process.pid,
  ) {
    if (!CELL.test(cell)) throw new Error(`cell: "${cell}" must be 1 to 12 characters a-z 0-9 (use shortId() for a label)`);
    this.prefix = runPrefix(pid);
  }

  private ns(role: string): string {
    return `${this.prefix}-${this.cell}-${role}`;
  }

  /** The L2 segment: one bridge per network, the VM taps (QEMU runs in here). */
  get segment(): string {
    return this.ns('seg');
  }

  dhcpNamespace(networkId: string): string {
    return this.ns(`qdhcp-${idPart(networkId.replace(/-/g, ''), 8)}`);
  }

  routerNamespace(routerId: string): string {
    return this.ns(`qrouter-${idPart(routerId.replace(/-/g, ''), 8)}`);
  }

  /** neutron-debug's probe: a port in a namespace of its own, to reach guests on a network without DHCP or router. */
  probeNamespace(portId: string): string {
    return this.ns(`qprobe-${idPart(portId.replace(/-/g, ''), 8)}`);
  }

  /** A namespace standing in for a VM (tests and self-checks without QEMU). */
  vmNamespace(portId: string): string {
    return this.ns(`vm-${idPart(portId.replace(/-/g, ''), 8)}`);
  }

  /** Unix sockets of the cell (the metadata agent's); short enough for sun_path. */
  socketDir(root: string = tmpdir()): string {
    return join(root, `${SOCKET_DIR_PREFIX}${this.prefix}-${this.cell}`);
  }
}

export function bridgeName(networkId: string): string {
  return `brq${idPart(networkId, ID_CHARS)}`;
}

/** The bridge-side end of a port's veth pair, or a VM's tap. */
export function tapName(portId: string): string {
  return `tap${idPart(portId, ID_CHARS)}`;
}

/** The DHCP port inside qdhcp. */
export function dhcpDeviceName(portId: string): string {
  return `ns-${idPart(portId, ID_CHARS)}`;
}

/** A router interface inside qrouter. */
export function routerDeviceName(portId: string): string {
  return `qr-${idPart(portId, ID_CHARS)}`;
}

/** The NIC inside a stand-in VM or probe namespace. */
export const GUEST_DEVICE = 'eth0';
