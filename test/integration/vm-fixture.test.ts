import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveInstance, type Instance } from '../../harness/model/instance.ts';
import { ensureImage } from '../../harness/images/ensure.ts';
import type { CellSpec, DatasourceKind } from '../../harness/model/cell.ts';
import { usesMetadataService } from '../../harness/model/datasources.ts';
import { runCell } from '../../harness/run/run-cell.ts';
import { generateKeyPair } from '../../harness/ssh/keys.ts';
import { bootVm } from '../../harness/vm/boot.ts';
import { StageError } from '../../harness/vm/readiness.ts';

/**
 * Plumbing tests on the fixture-busybox guest (SSH in ~10 s under TCG): the whole cell runner with
 * each datasource, the stage a broken guest fails at, and nothing left behind.
 */

const key = generateKeyPair('vm-fixture-test');
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cloudprobe-vmtest-'));
  await ensureImage('fixture-busybox');
}, 600_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function fixtureCell(datasource: DatasourceKind, name: string): Promise<{ cell: CellSpec; instance: Instance }> {
  const instance = await resolveInstance(
    {
      name,
      hostname: `${name}.fixture.test`,
      project_id: 'cloudprobe',
      availability_zone: 'nova',
      launch_index: 0,
      meta: {},
      public_keys: { run: key.publicKey },
      vendor_data: {},
      vendor_data2: {},
      files: [],
      nics: [{ mac: '52:54:00:12:34:56', mode: 'dhcp', dns: [] }],
    },
    root,
  );
  const cell: CellSpec = {
    id: `fixture/${name}/${datasource}/dhcp`,
    caseName: 'fixture',
    image: 'fixture-busybox',
    datasource,
    datasourceLabel: datasource,
    networkBackend: 'user',
    imdsv2: 'off',
    network: 'dhcp',
    instance,
    expectations: {
      hostname: instance.hostname,
      authorizedKeys: [{ user: 'root', keys: [key.publicKey] }],
      timezone: 'Asia/Shanghai',
      ...(usesMetadataService(datasource) ? { metadataRequests: ['/openstack/latest/meta_data.json'] } : {}),
    },
    secrets: ['not-a-real-secret-0xdeadbeef'],
  };
  return { cell, instance };
}

describe('runCell on fixture-busybox', () => {
  for (const datasource of ['configdrive-iso9660', 'configdrive-vfat', 'metadata-openstack'] as const) {
    it(`boots with ${datasource}, logs in with the run's key and judges the probes`, async () => {
      const { cell, instance } = await fixtureCell(datasource, `fx-${datasource.split('-')[1]}`);
      const lines: string[] = [];
      const result = await runCell(cell, { artifactsRoot: root, keep: 'never', sshKey: key, log: (l) => lines.push(l) });
      expect(result.error, JSON.stringify(result.error)).toBeUndefined();
      expect(result.outcome).toBe('pass');
      expect(result.stage).toBe('done');
      expect(result.accel.use).toMatch(/^(kvm|tcg)$/);
      const by = Object.fromEntries(result.verdicts.map((v) => [v.probe, v]));
      expect(by.hostname).toMatchObject({ status: 'pass', observed: { hostname: instance.hostname } });
      expect(by['authorized-keys']?.status).toBe('pass');
      // The fixture's capability profile: no timezone handling, so n/a (not pass, not fail).
      expect(by.timezone).toMatchObject({ status: 'n/a' });
      expect(by.timezone?.summary).toMatch(/not applicable to this image/);
      if (datasource === 'metadata-openstack') {
        expect(by['metadata-requests']?.status).toBe('pass');
        const log = await readFile(join(result.artifactsDir, result.artifacts.metadataRequests!), 'utf8');
        expect(log).toContain('/openstack/latest/meta_data.json');
      } else {
        expect(by['metadata-requests']?.status).toBe('n/a');
      }
      const consoleLog = await readFile(join(result.artifactsDir, result.artifacts.serial!), 'utf8');
      expect(consoleLog).toContain('cloudprobe-fixture: ready');
      expect(consoleLog).toContain(datasource === 'metadata-openstack' ? 'cloudprobe-fixture: metadata service' : 'cloudprobe-fixture: config drive');
      expect(result.timings['ssh-login']).toBeGreaterThan(0);
      expect(lines.some((l) => /qemu pid \d+/.test(l))).toBe(true);
      // The VM is gone and its work dir removed.
      const pid = Number(/qemu pid (\d+)/.exec(lines.join('\n'))![1]);
      expect(existsSync(`/proc/${pid}`)).toBe(false);
      const workDir = /work dir (\S+)/.exec(lines.join('\n'))![1]!;
      expect(existsSync(workDir)).toBe(false);
    });
  }

  it('runs two VMs at once without port or file clashes', async () => {
    const a = await fixtureCell('configdrive-iso9660', 'fx-par-a');
    const b = await fixtureCell('configdrive-iso9660', 'fx-par-b');
    const [ra, rb] = await Promise.all([
      runCell(a.cell, { artifactsRoot: root, keep: 'never', sshKey: key }),
      runCell(b.cell, { artifactsRoot: root, keep: 'never', sshKey: key }),
    ]);
    expect([ra.outcome, rb.outcome]).toEqual(['pass', 'pass']);
    // Each VM answered with its own hostname: no crossed port forwards.
    expect(ra.verdicts.find((v) => v.probe === 'hostname')?.observed).toMatchObject({ hostname: a.instance.hostname });
    expect(rb.verdicts.find((v) => v.probe === 'hostname')?.observed).toMatchObject({ hostname: b.instance.hostname });
    expect(ra.artifactsDir).not.toBe(rb.artifactsDir);
  });

  it('reports a wrong expectation as a failing verdict that says why', async () => {
    const { cell } = await fixtureCell('configdrive-iso9660', 'fx-wrong');
    cell.expectations.hostname = 'somebody-else';
    const result = await runCell(cell, { artifactsRoot: root, keep: 'never', sshKey: key });
    expect(result.outcome).toBe('fail');
    const v = result.verdicts.find((x) => x.probe === 'hostname')!;
    expect(v.status).toBe('fail');
    expect(v.summary).toContain('hostname is "fx-wrong.fixture.test", expected "somebody-else"');
    expect(v.evidence?.['$ hostname']).toBe('fx-wrong.fixture.test');
  });

  it('fails a kernel that panics at the ssh-banner stage, with the panic in the console tail', async () => {
    const { cell } = await fixtureCell('configdrive-iso9660', 'fx-panic');
    // No init in the initramfs → the kernel panics; loglevel=7 undoes `quiet` so the kernel banner shows.
    const result = await runCell(cell, { artifactsRoot: root, keep: 'on-failure', sshKey: key, extraCmdline: 'rdinit=/no-such-init loglevel=7' });
    expect(result.outcome).toBe('error');
    expect(result.error?.stage).toBe('ssh-banner');
    expect(result.stage).toBe('ssh-banner');
    expect(result.error?.message).toMatch(/QEMU exited/);
    expect(result.error?.consoleTail).toMatch(/Kernel panic/);
    expect(result.error?.hint).toMatch(/sshd/);
    // keep on-failure: the work dir stays for inspection, marked as kept.
    expect(result.artifacts.workDir).toBeDefined();
    expect(existsSync(join(result.artifacts.workDir!, 'serial.log'))).toBe(true);
    await rm(result.artifacts.workDir!, { recursive: true, force: true });
  });

  it('fails a disk with no bootloader at the kernel stage', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudprobe-vmtest-noboot-'));
    try {
      const disk = join(dir, 'blank.raw');
      await writeFile(disk, Buffer.alloc(1024 * 1024));
      const err = await bootVm({
        spec: {
          name: 'noboot',
          accel: 'tcg',
          memoryMiB: 64,
          cpus: 1,
          boot: { type: 'bios-disk', disk, diskFormat: 'raw' },
          nics: [{ mac: '52:54:00:12:34:99', sshForward: { hostPort: 0, guestAddress: '10.0.2.15' } }],
          serialLog: join(dir, 'serial.log'),
          qmpSocket: join(dir, 'qmp.sock'),
        },
        guestAddress: '10.0.2.15',
        login: { user: 'root', privateKey: key.privateKey },
        timeoutsMs: { kernel: 8000 },
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StageError);
      expect((err as StageError).stage).toBe('kernel');
      expect((err as StageError).message).toMatch(/stage kernel: not reached within 8 s/);
      expect((err as StageError).hint).toMatch(/not be bootable/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
