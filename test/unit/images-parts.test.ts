import { describe, expect, it } from 'vitest';
import { writeCpio } from '../../harness/images/cpio.ts';
import { assertRoot, cloudInitConfig, debianCmdline, debianSources } from '../../harness/images/build-debian.ts';
import { moduleLoadOrder, modinfoDepends } from '../../harness/images/build-fixture.ts';
import { grubConfig } from '../../harness/images/disk-image.ts';
import { digestFromSums, mirrored } from '../../harness/images/download.ts';
import { getManifest } from '../../harness/images/manifest.ts';
import { loadRecipe } from '../../harness/images/recipe.ts';
import { catalogDir } from '../../harness/images/manifest.ts';
import { parse } from 'yaml';

const ko = (deps: string) => Buffer.from(`\x7fELF....\0license=GPL\0depends=${deps}\0name=x\0`);

describe('fixture initramfs pieces', () => {
  it('reads depends= from .modinfo', () => {
    expect(modinfoDepends(ko('virtio,virtio_ring'))).toEqual(['virtio', 'virtio_ring']);
    expect(modinfoDepends(ko(''))).toEqual([]);
  });

  it('orders modules dependencies first, once each, skipping built-ins', () => {
    const mods = new Map([
      ['kernel/drivers/net/virtio_net.ko', ko('net_failover,virtio,virtio_ring')],
      ['kernel/drivers/net/net_failover.ko', ko('failover')],
      ['kernel/net/core/failover.ko', ko('')],
      ['kernel/drivers/virtio/virtio.ko', ko('')],
      ['kernel/drivers/virtio/virtio_ring.ko', ko('')],
      ['kernel/drivers/block/virtio_blk.ko', ko('virtio,virtio_ring')],
    ]);
    const { order, builtin } = moduleLoadOrder(mods, 'kernel/fs/ext4/ext4.ko\n', ['virtio_net', 'virtio-blk', 'ext4']);
    expect(order).toEqual([
      'kernel/net/core/failover.ko',
      'kernel/drivers/net/net_failover.ko',
      'kernel/drivers/virtio/virtio.ko',
      'kernel/drivers/virtio/virtio_ring.ko',
      'kernel/drivers/net/virtio_net.ko',
      'kernel/drivers/block/virtio_blk.ko',
    ]);
    expect(builtin).toEqual(['ext4']);
    expect(() => moduleLoadOrder(mods, '', ['ahci'])).toThrow(/kernel module ahci is neither a module nor built into this kernel/);
  });

  it('writes newc cpio records the kernel can unpack', () => {
    const a = writeCpio([
      { kind: 'dir', path: 'dev' },
      { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
      { kind: 'file', path: '/init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
      { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    ]);
    expect(a.length % 4).toBe(0);
    const text = a.toString('latin1');
    expect(text.startsWith('070701')).toBe(true);
    // The init record: mode 0100755, size 10, name "init" (no leading slash).
    expect(text).toMatch(/070701[0-9a-f]{8}000081ed000000000000000000000001000000000000000a[0-9a-f]{32}00000005[0-9a-f]{8}init\0/);
    // The console: a char device 5:1.
    expect(text).toMatch(/070701[0-9a-f]{8}00002180[0-9a-f]{56}0000000500000001[0-9a-f]{16}dev\/console\0/);
    expect(text).toContain('TRAILER!!!');
  });
});

describe('Debian build pieces', () => {
  it('boots GRUB straight into the kernel on the serial console', () => {
    const cfg = grubConfig({ kernelPath: '/boot/vmlinuz-6.1', initrdPath: '/boot/initrd.img-6.1', cmdline: debianCmdline() });
    expect(cfg).toContain('serial --unit=0 --speed=115200');
    expect(cfg).toContain('linux /boot/vmlinuz-6.1 root=LABEL=cloudimg-rootfs ro console=ttyS0,115200n8 net.ifnames=0');
    expect(cfg).toContain('initrd /boot/initrd.img-6.1');
  });

  it('sets cloud-init default user and renderer from the manifest', async () => {
    const cfg = parse(cloudInitConfig(await getManifest('debian-12-netplan')));
    expect(cfg.system_info.default_user.name).toBe('ubuntu');
    expect(cfg.system_info.network.renderers).toEqual(['netplan']);
    expect(cfg.locale).toBe('C.UTF-8');
  });

  it('needs root', () => {
    expect(() => assertRoot('debian-12-eni', 1000)).toThrow(/building debian-12-eni needs root/);
    expect(() => assertRoot('debian-12-eni', 0)).not.toThrow();
  });

  it('replaces deb.debian.org with CLOUDPROBE_DEBIAN_MIRROR', async () => {
    const { recipe } = await loadRecipe(catalogDir(), 'debian-12-eni');
    if (recipe.builder !== 'debian') throw new Error('expected a debian recipe');
    expect(debianSources(recipe, {})[0]).toBe('deb http://deb.debian.org/debian bookworm main');
    expect(debianSources(recipe, { CLOUDPROBE_DEBIAN_MIRROR: 'http://127.0.0.1:3142/' })).toContain('deb http://127.0.0.1:3142/debian-security bookworm-security main');
  });
});

describe('download helpers', () => {
  it('finds a digest in SHA256SUMS and SHA512SUMS files', () => {
    const a = 'a'.repeat(64);
    const b = 'B'.repeat(128);
    expect(digestFromSums(`${'0'.repeat(64)}  other.img\n${a} *ubuntu.img\n`, 'ubuntu.img')).toBe(a);
    expect(digestFromSums(`${b}  debian.qcow2\n`, 'debian.qcow2', 'sha512')).toBe(b.toLowerCase());
    expect(digestFromSums(`${a}  x.img\n`, 'y.img')).toBeUndefined();
  });

  it('maps a URL onto a mirror as <mirror>/<host>/<path>', () => {
    expect(mirrored('https://cloud-images.ubuntu.com/releases/24.04/release/x.img', 'http://127.0.0.1:8080/m/')).toBe('http://127.0.0.1:8080/m/cloud-images.ubuntu.com/releases/24.04/release/x.img');
    expect(mirrored('https://a.example/x', undefined)).toBe('https://a.example/x');
  });
});
