import { contains } from '../util/ipv4.ts';
import { DEFAULT_NET, METADATA_ADDRESS, type VmSpec } from './spec.ts';

/** QEMU's option parser splits on commas; a literal comma in a value is written twice. */
export function qemuEscape(value: string): string {
  return value.replaceAll(',', ',,');
}

/**
 * The guestfwd relay: one socat per guest connection (a `tcp:` chardev would connect once at QEMU
 * start). No `setpriv --pdeathsig` here: libslirp spawns it through glib's double fork, so its
 * parent is a short-lived intermediate process whose exit would race with the prctl and kill the
 * relay mid-request. socat ends by itself when QEMU's end of the socket closes; `-T 60` bounds an
 * idle relay whatever happens.
 */
export function metadataRelayCommand(proxyPort: number): string {
  return `socat -T 60 - TCP:127.0.0.1:${proxyPort}`;
}

function netdevArg(spec: VmSpec, index: number): string {
  const nic = spec.nics[index]!;
  if (nic.tap !== undefined) {
    if (nic.sshForward || nic.metadataProxyPort !== undefined) throw new Error(`NIC ${index}: a tap NIC has no slirp forwards (SSH and metadata go through its network)`);
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(nic.tap)) throw new Error(`NIC ${index}: "${nic.tap}" is not a network device name`);
    return `tap,id=net${index},ifname=${nic.tap},script=no,downscript=no`;
  }
  const net = nic.net ?? DEFAULT_NET;
  // restrict=on: the guest reaches nothing outside slirp itself; without it slirp would NAT the
  // guest to the host's real 169.254.169.254 (a cloud provider's metadata service on CI runners).
  const parts = [`user`, `id=net${index}`, `net=${net}`, 'restrict=on'];
  if (nic.metadataProxyPort !== undefined) {
    if (!contains(net, METADATA_ADDRESS)) {
      throw new Error(`NIC ${index}: guestfwd to ${METADATA_ADDRESS} needs it inside the slirp network, but net is ${net}`);
    }
    const cmd = metadataRelayCommand(nic.metadataProxyPort);
    if (cmd.includes(',')) throw new Error(`guestfwd command must not contain commas: ${cmd}`);
    parts.push(`guestfwd=tcp:${METADATA_ADDRESS}:80-cmd:${cmd}`);
  }
  if (nic.sshForward) {
    if (!contains(net, nic.sshForward.guestAddress)) {
      throw new Error(`NIC ${index}: SSH forward target ${nic.sshForward.guestAddress} is outside the slirp network ${net}`);
    }
    parts.push(`hostfwd=tcp:127.0.0.1:${nic.sshForward.hostPort}-${nic.sshForward.guestAddress}:22`);
  }
  return parts.join(',');
}

/** Builds QEMU's argv (without the binary) from a spec. Pure: no files are touched. */
export function buildQemuArgs(spec: VmSpec): string[] {
  const args: string[] = [
    '-name', qemuEscape(spec.name),
    '-nodefaults',
    '-display', 'none',
    '-machine', 'pc',
    // TCG's default 1 GiB translation cache per VM doubles QEMU's RSS for no speed gain here.
    '-accel', spec.accel === 'tcg' ? 'tcg,tb-size=256' : 'kvm',
    '-smp', String(spec.cpus),
    '-m', String(spec.memoryMiB),
    '-chardev', `file,id=serial0,path=${qemuEscape(spec.serialLog)}`,
    '-serial', 'chardev:serial0',
    '-qmp', `unix:${qemuEscape(spec.qmpSocket)},server=on,wait=off`,
  ];
  if (spec.accel === 'kvm') args.push('-cpu', 'host');
  if (spec.noReboot ?? true) args.push('-no-reboot');

  const boot = spec.boot;
  if (boot.type === 'kernel') {
    args.push('-kernel', boot.kernel, '-append', boot.cmdline);
    if (boot.initrd) args.push('-initrd', boot.initrd);
  }
  const disk = boot.disk;
  if (disk) {
    args.push('-drive', `file=${qemuEscape(disk)},if=virtio,format=${boot.diskFormat ?? 'qcow2'},cache=unsafe,discard=unmap`);
  }

  if (spec.configDrive) {
    const file = qemuEscape(spec.configDrive.path);
    // As nova attaches it: iso9660 as a read-only IDE cdrom, vfat as a virtio disk.
    args.push(
      '-drive',
      spec.configDrive.format === 'iso9660'
        ? `file=${file},if=ide,media=cdrom,readonly=on,format=raw`
        : `file=${file},if=virtio,format=raw`,
    );
  }

  // NICs on fixed PCI slots from 2 (0 host bridge, 1 PIIX3; -nodefaults leaves no VGA), so the
  // guest's predictable names are ens2, ens3, … whatever drives are attached (implicit if=virtio
  // drives are placed after the -device options anyway, but a name should not rest on that).
  spec.nics.forEach((nic, i) => {
    args.push('-netdev', netdevArg(spec, i), '-device', `virtio-net-pci,netdev=net${i},mac=${nic.mac},addr=${(2 + i).toString(16)}`);
  });

  if (spec.smbios) {
    const s = spec.smbios;
    const fields = [
      'type=1',
      `manufacturer=${qemuEscape(s.manufacturer ?? 'OpenStack Foundation')}`,
      `product=${qemuEscape(s.product ?? 'OpenStack Nova')}`,
      `family=${qemuEscape(s.family ?? 'Virtual Machine')}`,
      `uuid=${s.uuid}`,
      `serial=${s.uuid}`,
    ];
    args.push('-smbios', fields.join(','));
  }
  args.push('-device', 'virtio-rng-pci');
  return args;
}
