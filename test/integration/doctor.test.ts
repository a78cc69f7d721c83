import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { probeAccel } from '../../harness/host/kvm-probe.ts';
import { buildProgram } from '../../harness/cli/main.ts';

describe('accelerator probe (real qemu)', () => {
  it('boots the probe sector under TCG', async () => {
    const r = await probeAccel('tcg');
    expect(r.ok, r.detail).toBe(true);
  });
});

describe('cloudprobe doctor', () => {
  it('reports an accelerator decision that matches the KVM probe', async () => {
    const r = await execa('node', ['bin/cloudprobe.js', 'doctor', '--json'], { reject: false });
    const report = JSON.parse(r.stdout);
    expect(report.tools.length).toBeGreaterThan(5);
    if (report.kvm.usable) {
      expect(report.accelerator.use).toBe('kvm');
    } else {
      expect(report.accelerator.use).toBe('tcg');
      expect(report.accelerator.reason).toContain(report.kvm.detail);
    }
    expect(r.exitCode).toBe(report.ok ? 0 : 1);
    // The optional neutron backend: available, or every reason why not.
    expect(report.networks.user.available).toBe(true);
    expect(typeof report.networks.neutron.available).toBe('boolean');
    expect(report.networks.neutron.available).toBe(report.networks.neutron.reasons.length === 0);
  });

  it('names the Debian package of a missing tool and exits non-zero', async () => {
    // A PATH holding only node: every external tool is missing (sbin is searched too, so only
    // tools from /usr/bin are sure to be reported missing).
    const bin = await mkdtemp(join(tmpdir(), 'cloudprobe-path-'));
    try {
      await symlink(process.execPath, join(bin, 'node'));
      const r = await execa(process.execPath, ['bin/cloudprobe.js', 'doctor'], { reject: false, env: { PATH: bin } });
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(/MISSING +qemu-system-x86_64 +install Debian package qemu-system-x86/);
      expect(r.stdout).toMatch(/doctor: NOT ready: apt-get install .*qemu-utils/);
      expect(r.stdout).toMatch(/^networks: +user: available; neutron: not available: .*socat not found: install Debian package socat/m);
    } finally {
      await rm(bin, { recursive: true, force: true });
    }
  });
});

describe('cli', () => {
  it('has --help for every command and --version', async () => {
    const names = buildProgram().commands.map((c) => c.name());
    expect(names).toContain('doctor');
    for (const name of names) {
      const r = await execa(process.execPath, ['bin/cloudprobe.js', name, '--help'], { reject: false });
      expect(r.exitCode, name).toBe(0);
      expect(r.stdout).toContain(`Usage: cloudprobe ${name}`);
    }
    const v = await execa(process.execPath, ['bin/cloudprobe.js', '--version']);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
