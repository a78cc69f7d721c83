import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImage, type LocalImage } from '../../harness/images/ensure.ts';

const { Client, utils } = ssh2;

/**
 * Boots the fixture image for real (QEMU, TCG) three ways it can get its metadata — an iso9660
 * config drive on the IDE cdrom, a vfat config drive on a virtio disk, and the metadata service
 * through guestfwd — and logs in over SSH with the key it installed and with root's password.
 */
let img: LocalImage;
let work: string;
const key = utils.generateKeyPairSync('ed25519');

beforeAll(async () => {
  img = await ensureImage('fixture-busybox');
  work = await mkdtemp(join(tmpdir(), 'cloudprobe-fixture-boot-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function metaData(hostname: string): string {
  return JSON.stringify({ uuid: '3f1e0c55-9b64-4c7b-9a39-0d0f5d0e6a01', hostname, name: hostname.split('.')[0], public_keys: { k: `${key.public}\n` }, keys: [{ name: 'k', type: 'ssh', data: `${key.public}\n` }] });
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

async function configTree(hostname: string): Promise<string> {
  const tree = join(work, `tree-${hostname}`);
  await mkdir(join(tree, 'openstack/latest'), { recursive: true });
  await writeFile(join(tree, 'openstack/latest/meta_data.json'), metaData(hostname));
  return tree;
}

interface Booted {
  sshPort: number;
  console: () => Promise<string>;
  qemu: ResultPromise;
}

async function boot(name: string, extraArgs: string[], netdevExtra = ''): Promise<Booted> {
  const sshPort = await freePort();
  const log = join(work, `${name}.console`);
  const qemu = execa('qemu-system-x86_64', [
    '-accel', 'tcg', '-m', '256', '-smp', '1', '-display', 'none', '-monitor', 'none', '-serial', `file:${log}`,
    '-kernel', img.kernel as string, '-initrd', img.initrd as string, '-append', img.cmdline as string,
    '-netdev', `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${sshPort}-:22${netdevExtra}`, '-device', 'virtio-net-pci,netdev=n0',
    ...extraArgs,
  ], { reject: false });
  const consoleText = () => readFile(log, 'utf8').catch(() => '');
  const t0 = Date.now();
  for (;;) {
    const text = await consoleText();
    if (text.includes('cloudprobe-fixture: ready')) break;
    if (qemu.exitCode !== null || Date.now() - t0 > 120_000) {
      qemu.kill('SIGKILL');
      throw new Error(`fixture never got ready (qemu ${(await qemu).all ?? ''}):\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { sshPort, console: consoleText, qemu };
}

async function stop(b: Booted): Promise<void> {
  b.qemu.kill('SIGTERM');
  await b.qemu;
}

function sshRun(port: number, auth: { privateKey: string } | { password: string }, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () =>
      c.exec(command, (err, stream) => {
        if (err) return reject(err);
        let out = '';
        stream.on('data', (d: Buffer) => (out += d.toString()));
        stream.stderr.on('data', (d: Buffer) => (out += d.toString()));
        stream.on('close', () => {
          c.end();
          resolve(out);
        });
      }),
    )
      .on('error', reject)
      .connect({ host: '127.0.0.1', port, username: 'root', readyTimeout: 20_000, ...auth });
  });
}

describe('fixture-busybox boots under TCG and takes its keys and hostname from metadata', () => {
  it('reads an iso9660 config drive on the cdrom; key and password logins work', async () => {
    const iso = join(work, 'cd.iso');
    await execa('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, '-V', 'config-2', '-J', '-R', await configTree('fx-iso.example')]);
    const b = await boot('iso', ['-cdrom', iso]);
    try {
      expect(await b.console()).toMatch(/config drive \/dev\/sr0 \(iso9660\)/);
      expect(await sshRun(b.sshPort, { privateKey: key.private }, 'hostname; cat /root/.ssh/authorized_keys')).toBe(`fx-iso.example\n${key.public}\n`);
      expect(await sshRun(b.sshPort, { password: 'cloudprobe' }, 'id -u')).toBe('0\n');
    } finally {
      await stop(b);
    }
  });

  it('reads a vfat config drive on a virtio disk', async () => {
    const vfat = join(work, 'cd.vfat');
    await execa('mkfs.vfat', ['-n', 'config-2', '-C', vfat, '4096'], { env: { PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
    await execa('mcopy', ['-s', '-i', vfat, join(await configTree('fx-vfat.example'), 'openstack'), '::/']);
    const b = await boot('vfat', ['-drive', `file=${vfat},format=raw,if=virtio,readonly=on`]);
    try {
      expect(await b.console()).toMatch(/config drive \/dev\/vda \(vfat\)/);
      expect(await sshRun(b.sshPort, { privateKey: key.private }, 'hostname')).toBe('fx-vfat.example\n');
    } finally {
      await stop(b);
    }
  });

  it('falls back to the metadata service through guestfwd when there is no drive', async () => {
    const requests: string[] = [];
    const http = createHttpServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/openstack/latest/meta_data.json') res.writeHead(200, { 'Content-Type': 'application/json' }).end(metaData('fx-mds.example'));
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const port = (http.address() as AddressInfo).port;
    try {
      const b = await boot('mds', [], `,net=169.254.169.0/24,guestfwd=tcp:169.254.169.254:80-cmd:socat - TCP:127.0.0.1:${port}`);
      try {
        expect(await b.console()).toMatch(/cloudprobe-fixture: metadata service/);
        expect(requests).toContain('/openstack/latest/meta_data.json');
        expect(await sshRun(b.sshPort, { privateKey: key.private }, 'hostname')).toBe('fx-mds.example\n');
      } finally {
        await stop(b);
      }
    } finally {
      await new Promise((r) => http.close(r));
    }
  });
});
