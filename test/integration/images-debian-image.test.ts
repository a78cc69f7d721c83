import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImage, type LocalImage } from '../../harness/images/ensure.ts';

/**
 * Inspects the built Debian images without booting or mounting them: qemu-img, the MBR, and the
 * ext4 root read with debugfs at the partition offset. `make test` builds debian-12-eni before
 * the tests; debian-12-netplan is checked where `make image` has built it.
 */
const PARTITION = '?offset=1048576';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cloudprobe-debian-image-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function debugfs(raw: string, request: string): Promise<string> {
  const r = await execa('debugfs', ['-R', request, `${raw}${PARTITION}`], { env: { PATH: `${process.env.PATH}:/sbin:/usr/sbin` } });
  return r.stdout;
}

/** Names in a directory of the image (debugfs `ls -p`: /inode/mode/uid/gid/name/size/). */
async function names(raw: string, dir: string): Promise<string[]> {
  return (await debugfs(raw, `ls -p ${dir}`))
    .split('\n')
    .map((l) => l.split('/')[5])
    .filter((n): n is string => Boolean(n) && n !== '.' && n !== '..');
}

for (const flavour of ['eni', 'netplan'] as const) {
  describe(`debian-12-${flavour} (built image, inspected offline)`, () => {
    let img: LocalImage | undefined;
    let raw: string;

    beforeAll(async () => {
      img = await ensureImage(`debian-12-${flavour}`, { allowBuild: false }).catch(() => undefined);
      if (!img?.path) return;
      raw = join(work, `${flavour}.raw`);
      await execa('qemu-img', ['convert', '-O', 'raw', img.path, raw]);
    });

    it('is a valid compressed qcow2 with an MBR, GRUB and one bootable partition at 1 MiB', async (ctx) => {
      if (!img?.path) return ctx.skip(`debian-12-${flavour} is not built here (make image builds it)`);
      await execa('qemu-img', ['check', img.path]);
      const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', img.path])).stdout) as { format: string; 'virtual-size': number };
      expect(info.format).toBe('qcow2');
      expect(info['virtual-size']).toBe(2048 * 1024 * 1024);
      expect((await stat(img.path)).size).toBeLessThan(400 * 1024 * 1024);
      const table = JSON.parse((await execa('sfdisk', ['--json', raw], { env: { PATH: `${process.env.PATH}:/sbin:/usr/sbin` } })).stdout);
      expect(table.partitiontable.label).toBe('dos');
      expect(table.partitiontable.partitions).toEqual([expect.objectContaining({ start: 2048, type: '83', bootable: true })]);
      const fh = await open(raw, 'r');
      const mbr = Buffer.alloc(512);
      await fh.read(mbr, 0, 512, 0);
      await fh.close();
      const bootImg = await readFile('/usr/lib/grub/i386-pc/boot.img');
      expect(mbr.subarray(0, 440).equals(bootImg.subarray(0, 440))).toBe(true);
      expect(mbr.readUInt16LE(510)).toBe(0xaa55);
      expect(await debugfs(raw, 'stats')).toMatch(/Filesystem volume name:\s+cloudimg-rootfs/);
    });

    it('ships no instance state: empty machine-id, no host keys, no cloud-init state, no leases', async (ctx) => {
      if (!img?.path) return ctx.skip(`debian-12-${flavour} is not built here (make image builds it)`);
      expect(await debugfs(raw, 'stat /etc/machine-id')).toMatch(/Size: 0\b/);
      expect((await names(raw, '/etc/ssh')).filter((n) => n.startsWith('ssh_host_'))).toEqual([]);
      expect(await names(raw, '/var/lib/cloud')).toEqual([]);
      expect((await names(raw, '/var/lib/dhcp')).filter((n) => n.includes('lease'))).toEqual([]);
      expect(await names(raw, '/var/lib/dbus')).not.toContain('machine-id');
    });

    it('has the cloudprobe settings: default user ubuntu, renderer, masked timers, sshd host-key fallback, console cmdline', async (ctx) => {
      if (!img?.path) return ctx.skip(`debian-12-${flavour} is not built here (make image builds it)`);
      const cfg = await debugfs(raw, 'cat /etc/cloud/cloud.cfg.d/90-cloudprobe.cfg');
      expect(cfg).toMatch(/default_user:\n\s+name: ubuntu/);
      expect(cfg).toMatch(new RegExp(`renderers:\\n\\s+- ${flavour}`));
      for (const unit of ['apt-daily.timer', 'apt-daily-upgrade.timer', 'e2scrub_reap.service', 'fstrim.timer']) {
        expect(await debugfs(raw, `stat /etc/systemd/system/${unit}`)).toMatch(/Fast link dest: "\/dev\/null"/);
      }
      expect(await debugfs(raw, 'cat /etc/systemd/system/ssh.service.d/10-cloudprobe-hostkeys.conf')).toMatch(/ExecStartPre=\/usr\/bin\/ssh-keygen -A\nExecStartPre=\/usr\/sbin\/sshd -t/);
      expect(img?.cmdline).toMatch(/console=ttyS0.*net\.ifnames=0/);
      // The exported kernel is the one in the image.
      const kernels = (await names(raw, '/boot')).filter((n) => n.startsWith('vmlinuz-'));
      expect(kernels).toHaveLength(1);
      const inImage = join(work, `${flavour}-vmlinuz`);
      await debugfs(raw, `dump /boot/${kernels[0]} ${inImage}`);
      expect((await readFile(inImage)).equals(await readFile(img?.kernel as string))).toBe(true);
    });

    it(`has the ${flavour} network stack cloud-init renders for`, async (ctx) => {
      if (!img?.path) return ctx.skip(`debian-12-${flavour} is not built here (make image builds it)`);
      const sbin = await names(raw, '/usr/sbin');
      if (flavour === 'eni') {
        for (const tool of ['ifup', 'dhclient', 'route', 'resolvconf']) expect(sbin).toContain(tool);
        expect(sbin).not.toContain('netplan');
      } else {
        expect(sbin).toContain('netplan');
        expect(sbin).not.toContain('ifup');
        expect(await names(raw, '/etc/systemd/system/multi-user.target.wants')).toContain('systemd-networkd.service');
        expect(await debugfs(raw, 'stat /etc/resolv.conf')).toMatch(/Fast link dest: "\.\.\/run\/systemd\/resolve\/stub-resolv\.conf"/);
      }
    });
  });
}
