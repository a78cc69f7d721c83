import { netnsExecPrefix } from './ip.ts';
import type { PlannedPort } from '../../model/topology.ts';
import { tapName } from './names.ts';

/**
 * How QEMU joins a neutron segment: it runs inside the segment namespace (`ip netns exec <seg>
 * qemu-system-x86_64 …`) and opens the port's tap there, created beforehand by the topology, so
 * QEMU needs no helper scripts (`script=no,downscript=no`). The guest NIC carries the port's
 * MAC: that is what dnsmasq's reservation and the metadata agent's lookup know it by.
 */

export function qemuNetnsPrefix(segmentNamespace: string): string[] {
  return netnsExecPrefix(segmentNamespace);
}

/** `-netdev tap,…` and `-device virtio-net-pci,…` for a port as QEMU NIC `index` (netdev id `net<index>`). */
export function qemuNetdevArgs(port: PlannedPort, index: number): string[] {
  if (port.deviceOwner !== 'compute:nova') throw new Error(`port ${port.id} is a ${port.deviceOwner} port, not a VM's`);
  if (port.nic !== 'tap') throw new Error(`port ${port.id} is a ${port.nic ?? 'non-tap'} NIC, not a tap for QEMU`);
  if (!Number.isInteger(index) || index < 0) throw new Error(`index: ${index} is not a NIC index`);
  return ['-netdev', `tap,id=net${index},ifname=${tapName(port.id)},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=net${index},mac=${port.mac}`];
}
