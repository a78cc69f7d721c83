import { describe, expect, it } from 'vitest';
import { buildQemuArgs, qemuEscape } from '../../harness/vm/qemu-args.ts';
import { planNics, userNetwork } from '../../harness/network/user.ts';
import type { Instance } from '../../harness/model/instance.ts';
import { CleanupStack } from '../../harness/util/cleanup-stack.ts';
import { contains, networkOf } from '../../harness/util/ipv4.ts';
import { slirpDhcpAddress, type VmSpec } from '../../harness/vm/spec.ts';

const UUID = '0f3c1c2e-5b7a-4d5e-9a2b-1c2d3e4f5a6b';

function spec(over: Partial<VmSpec> = {}): VmSpec {
  return {
    name: 'web-1',
    accel: 'tcg',
    memoryMiB: 512,
    cpus: 1,
    boot: { type: 'bios-disk', disk: '/w/overlay.qcow2' },
    nics: [{ mac: '52:54:00:12:34:56', net: '10.0.2.0/24', sshForward: { hostPort: 40022, guestAddress: '10.0.2.15' } }],
    smbios: { uuid: UUID },
    serialLog: '/w/serial.log',
    qmpSocket: '/w/qmp.sock',
    ...over,
  };
}

/** The value following `flag` each time it occurs. */
function values(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

describe('buildQemuArgs', () => {
  it('builds a TCG guest with a serial log, QMP socket, no default devices and no display', () => {
    const args = buildQemuArgs(spec());
    expect(args).toContain('-nodefaults');
    expect(values(args, '-display')).toEqual(['none']);
    expect(values(args, '-accel')).toEqual(['tcg,tb-size=256']);
    expect(values(args, '-smp')).toEqual(['1']);
    expect(values(args, '-m')).toEqual(['512']);
    expect(values(args, '-chardev')).toEqual(['file,id=serial0,path=/w/serial.log']);
    expect(values(args, '-serial')).toEqual(['chardev:serial0']);
    expect(values(args, '-qmp')).toEqual(['unix:/w/qmp.sock,server=on,wait=off']);
    expect(values(args, '-drive')).toEqual(['file=/w/overlay.qcow2,if=virtio,format=qcow2,cache=unsafe,discard=unmap']);
    expect(args).not.toContain('-cpu');
  });

  it('uses the host CPU under KVM', () => {
    const args = buildQemuArgs(spec({ accel: 'kvm' }));
    expect(values(args, '-accel')).toEqual(['kvm']);
    expect(values(args, '-cpu')).toEqual(['host']);
  });

  it('sets SMBIOS type 1 as nova does, uuid = serial = instance uuid', () => {
    expect(values(buildQemuArgs(spec()), '-smbios')).toEqual([
      `type=1,manufacturer=OpenStack Foundation,product=OpenStack Nova,family=Virtual Machine,uuid=${UUID},serial=${UUID}`,
    ]);
  });

  it('attaches an iso9660 config drive as a read-only cdrom and a vfat one as a virtio disk', () => {
    const iso = values(buildQemuArgs(spec({ configDrive: { format: 'iso9660', path: '/w/config-2.iso' } })), '-drive');
    expect(iso[1]).toBe('file=/w/config-2.iso,if=ide,media=cdrom,readonly=on,format=raw');
    const vfat = values(buildQemuArgs(spec({ configDrive: { format: 'vfat', path: '/w/config-2.vfat' } })), '-drive');
    expect(vfat[1]).toBe('file=/w/config-2.vfat,if=virtio,format=raw');
  });

  it('gives every NIC an explicit MAC on its own restricted slirp network', () => {
    const args = buildQemuArgs(
      spec({
        nics: [
          { mac: '52:54:00:12:34:56', net: '10.0.2.0/24', sshForward: { hostPort: 40022, guestAddress: '10.0.2.50' } },
          { mac: '52:54:00:12:34:57', net: '10.0.3.0/24' },
        ],
      }),
    );
    expect(values(args, '-netdev')).toEqual([
      'user,id=net0,net=10.0.2.0/24,restrict=on,hostfwd=tcp:127.0.0.1:40022-10.0.2.50:22',
      'user,id=net1,net=10.0.3.0/24,restrict=on',
    ]);
    expect(values(args, '-device').filter((d) => d.startsWith('virtio-net'))).toEqual([
      'virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,addr=2',
      'virtio-net-pci,netdev=net1,mac=52:54:00:12:34:57,addr=3',
    ]);
  });

  it('forwards the guest metadata address to the instance proxy through a per-connection socat', () => {
    const args = buildQemuArgs(
      spec({ nics: [{ mac: '52:54:00:12:34:56', net: '169.254.169.0/24', metadataProxyPort: 41000, sshForward: { hostPort: 40022, guestAddress: '169.254.169.15' } }] }),
    );
    expect(values(args, '-netdev')).toEqual([
      'user,id=net0,net=169.254.169.0/24,restrict=on,guestfwd=tcp:169.254.169.254:80-cmd:socat -T 60 - TCP:127.0.0.1:41000,hostfwd=tcp:127.0.0.1:40022-169.254.169.15:22',
    ]);
  });

  it('refuses a guestfwd outside the slirp network (QEMU would refuse to start)', () => {
    expect(() => buildQemuArgs(spec({ nics: [{ mac: '52:54:00:12:34:56', net: '10.0.2.0/24', metadataProxyPort: 41000 }] }))).toThrow(
      /guestfwd to 169\.254\.169\.254 needs it inside the slirp network, but net is 10\.0\.2\.0\/24/,
    );
  });

  it('boots a kernel directly with its command line', () => {
    const args = buildQemuArgs(spec({ boot: { type: 'kernel', kernel: '/i/vmlinuz', initrd: '/i/initrd.img', cmdline: 'console=ttyS0 quiet' } }));
    expect(values(args, '-kernel')).toEqual(['/i/vmlinuz']);
    expect(values(args, '-initrd')).toEqual(['/i/initrd.img']);
    expect(values(args, '-append')).toEqual(['console=ttyS0 quiet']);
    expect(values(args, '-drive')).toEqual([]);
  });

  it('escapes commas in paths', () => {
    expect(qemuEscape('/a,b/c')).toBe('/a,,b/c');
    expect(values(buildQemuArgs(spec({ serialLog: '/w,x/serial.log' })), '-chardev')).toEqual(['file,id=serial0,path=/w,,x/serial.log']);
  });
});

describe('slirp address arithmetic', () => {
  it('knows networks and the first DHCP address', () => {
    expect(networkOf('10.0.2.50/24')).toBe('10.0.2.0/24');
    expect(networkOf('169.254.169.77/24')).toBe('169.254.169.0/24');
    expect(slirpDhcpAddress('10.0.2.0/24')).toBe('10.0.2.15');
    expect(slirpDhcpAddress('169.254.169.0/24')).toBe('169.254.169.15');
    expect(contains('169.254.169.0/24', '169.254.169.254')).toBe(true);
    expect(contains('10.0.2.0/24', '169.254.169.254')).toBe(false);
  });
});

describe('planNics', () => {
  it('forwards SSH to 10.0.2.15 for DHCP and to the static address for a static NIC', () => {
    expect(planNics([{ mac: '52:54:00:12:34:56', mode: 'dhcp', dns: [] }]).guestAddress).toBe('10.0.2.15');
    const st = planNics([{ mac: '52:54:00:12:34:56', mode: 'static', address: '10.0.2.50/24', gateway: '10.0.2.2', dns: [] }]);
    expect(st.guestAddress).toBe('10.0.2.50');
    expect(st.nics[0]).toEqual({ mac: '52:54:00:12:34:56', net: '10.0.2.0/24', sshForward: { hostPort: 0, guestAddress: '10.0.2.50' } });
  });

  it('puts a metadata run on 169.254.169.0/24 with the proxy port, and other NICs on their own networks', async () => {
    const instance = { nics: [
      { mac: '52:54:00:12:34:56', mode: 'dhcp' as const, dns: [] },
      { mac: '52:54:00:12:34:57', mode: 'static' as const, address: '10.0.3.50/24', dns: [] },
    ] } as unknown as Instance;
    // The guest address is known before the proxy exists; the proxy port is connected afterwards.
    const p = await userNetwork.attach({ instance, metadataService: true, workDir: '/nonexistent', cleanup: new CleanupStack(), cellId: 'c/i/d/n' });
    expect(p.nics[0]!.metadataProxyPort).toBeUndefined();
    p.connectMetadata(41000);
    expect(p.guestAddress).toBe('169.254.169.15');
    expect(p.nics).toEqual([
      { mac: '52:54:00:12:34:56', net: '169.254.169.0/24', sshForward: { hostPort: 0, guestAddress: '169.254.169.15' }, metadataProxyPort: 41000 },
      { mac: '52:54:00:12:34:57', net: '10.0.3.0/24' },
    ]);
  });

  it('gives every further DHCP NIC a subnet of its own (no two NICs on one /24)', () => {
    const dhcp = (mac: string) => ({ mac, mode: 'dhcp' as const, dns: [] });
    const p = planNics([dhcp('52:54:00:12:34:56'), dhcp('52:54:00:12:34:57'), dhcp('52:54:00:12:34:58')]);
    expect(p.nics.map((n) => n.net)).toEqual(['10.0.2.0/24', '10.0.3.0/24', '10.0.4.0/24']);
    expect(planNics([dhcp('52:54:00:12:34:56'), dhcp('52:54:00:12:34:57')], { metadataService: true }).nics.map((n) => n.net)).toEqual(['169.254.169.0/24', '10.0.3.0/24']);
  });

  it('refuses a metadata run whose first NIC is static outside the metadata network', () => {
    expect(() => planNics([{ mac: '52:54:00:12:34:56', mode: 'static', address: '10.0.2.50/24', dns: [] }], { metadataService: true })).toThrow(/needs the first NIC on 169\.254\.169\.0\/24/);
  });
});
