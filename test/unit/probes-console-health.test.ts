import { describe, expect, it } from 'vitest';
import { judgeConsoleHealth } from '../../harness/probes/console-health.ts';

const BOOT = [
  '[    0.000000] Linux version 6.1.0-41-cloud-amd64 (debian-kernel@lists.debian.org)',
  '[  OK  ] Started \x1b[0;1;39mssh.service\x1b[0m - OpenBSD Secure Shell server.',
  "[   63.1] cloud-init[412]: Cloud-init v. 22.4.2 finished at Fri, 04 Dec 2026 20:15:42 +0000. Datasource DataSourceConfigDrive.  Up 63.10 seconds",
].join('\n');

describe('console health', () => {
  it('passes a clean boot, with what it looked at as evidence', () => {
    const v = judgeConsoleHealth(BOOT);
    expect(v.status).toBe('pass');
    expect(v.evidence?.['console: lines scanned']).toMatch(/^3 lines; looked for: kernel panic, kernel oops/);
  });

  it.each([
    ['[    5.1] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)', 'kernel panic'],
    ['[   12.0] Oops: 0002 [#1] PREEMPT SMP NOPTI', 'kernel oops'],
    ['[   12.0] general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP', 'kernel oops'],
    ['[   12.0] BUG: kernel NULL pointer dereference, address: 0000000000000008', 'kernel BUG'],
    ['You are in emergency mode. After logging in, type "journalctl -xb" to view', 'emergency mode'],
    ['[   40.2] Out of memory: Killed process 412 (cloud-init) total-vm:123456kB', 'OOM kill'],
    ['[   33.3] python3[412]: segfault at 0 ip 00007f0000001234 sp 00007ffd00000000 error 4 in libc.so.6', 'segfault'],
  ])('fails on %s', (line, what) => {
    const v = judgeConsoleHealth(`${BOOT}\n${line}\n`);
    expect(v.status).toBe('fail');
    expect(v.summary).toContain(`the console shows ${what}`);
    expect(v.evidence?.['console: what went wrong']).toBe(line.trim());
  });

  it('keeps lockup and stall warnings as notes of a slow host, not a failure', () => {
    const v = judgeConsoleHealth(`${BOOT}\n[  88.8] watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [swapper/0:1]\n[  90.0] rcu: INFO: rcu_preempt self-detected stall on CPU\n`);
    expect(v.status).toBe('pass');
    expect(v.summary).toContain('2 lockup/stall warning(s): a slow host');
    expect(v.evidence?.['console: the host was slow (not judged)']).toContain('soft lockup');
  });

  it('counts repeats and caps the evidence', () => {
    const many = Array.from({ length: 30 }, (_, k) => `[ ${k}.0] app[${k}]: segfault at 0 ip 0000000000401000 sp 0 error 4`).join('\n');
    const v = judgeConsoleHealth(`${BOOT}\n${many}`);
    expect(v.summary).toMatch(/^the console shows segfault ×30: /);
    expect(v.evidence?.['console: what went wrong']).toMatch(/… 10 more$/);
    expect(v.observed).toEqual({ segfault: 30 });
  });
});
