import { describe, expect, it } from 'vitest';
import { outcomeOf } from '../../harness/model/cell.ts';
import { probeAuthorizedKeys } from '../../harness/probes/access.ts';
import { defineProbe, fail, pass } from '../../harness/probes/define.ts';
import { probeHostname } from '../../harness/probes/identity.ts';
import { probeMultiNic } from '../../harness/probes/network.ts';
import { PROBES, runProbes } from '../../harness/probes/run.ts';
import { probeTimezone } from '../../harness/probes/system.ts';
import { GuestCommandError } from '../../harness/ssh/guest.ts';
import { PROBE_NAMES } from '../../harness/model/probe.ts';
import { ScriptedTransport } from '../helpers/local-guest.ts';
import { fakeGuest, probeContext, UNREADABLE } from '../helpers/probe-context.ts';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0cloudprobeTESTKEYxxxxxxxxxxxxxxxxxxxxxxx run';

const debian = (overrides: { timezone?: string; lost?: (line: string) => boolean } = {}) =>
  fakeGuest({
    files: { '/etc/timezone': `${overrides.timezone ?? 'Asia/Shanghai'}\n`, '/etc/hostname': 'cloud\n', '/root/.ssh/authorized_keys': `${KEY}\n` },
    commands: {
      'readlink /etc/localtime': { stdout: `/usr/share/zoneinfo/${overrides.timezone ?? 'Asia/Shanghai'}\n` },
      'date +%Z%z': { stdout: 'CST+0800\n' },
      hostname: { stdout: 'cloud\n' },
      'hostname -f': { stdout: 'cloud.yunshan.net\n' },
    },
    ...(overrides.lost ? { lost: overrides.lost } : {}),
  });

describe('defineProbe: the n/a preamble, evidence and timing in one place', () => {
  it('n/a when the capability profile excludes the probe, or the scenario expects nothing', async () => {
    const excluded = await probeTimezone(probeContext(debian(), { timezone: 'Asia/Shanghai' }, { image: { notApplicable: { timezone: 'no timezone handling' } } }));
    expect(excluded).toMatchObject({ probe: 'timezone', status: 'n/a', summary: 'not applicable to this image: no timezone handling' });
    const nothing = await probeTimezone(probeContext(debian(), {}));
    expect(nothing).toMatchObject({ probe: 'timezone', status: 'n/a', summary: 'the scenario expects nothing here' });
    expect(nothing.evidence).toBeUndefined();
    const emptyList = await probeAuthorizedKeys(probeContext(debian(), { authorizedKeys: [] }));
    expect(emptyList.summary).toBe('the scenario expects nothing here');
    const single = await probeMultiNic(probeContext(debian(), { nics: [{ mac: '52:54:00:12:34:56', mode: 'dhcp' }] }));
    expect(single).toMatchObject({ status: 'n/a', summary: 'the scenario has a single NIC' });
    for (const v of [excluded, nothing, emptyList, single]) expect(typeof v.durationMs).toBe('number');
  });

  it('a guest that is wrong gives fail with the same texts and evidence as before', async () => {
    const v = await probeTimezone(probeContext(debian({ timezone: 'Etc/UTC' }), { timezone: 'Asia/Shanghai' }));
    expect(v.status).toBe('fail');
    expect(v.summary).toBe('/etc/timezone says "Etc/UTC", expected "Asia/Shanghai"; /etc/localtime links to "/usr/share/zoneinfo/Etc/UTC", expected …/zoneinfo/Asia/Shanghai');
    expect(v.evidence).toEqual({ '$ cat /etc/timezone': 'Etc/UTC', '$ readlink /etc/localtime': '/usr/share/zoneinfo/Etc/UTC', '$ date +%Z%z': 'CST+0800' });
    expect(v.observed).toEqual({ etcTimezone: 'Etc/UTC', localtime: '/usr/share/zoneinfo/Etc/UTC' });
    const ok = await probeTimezone(probeContext(debian(), { timezone: 'Asia/Shanghai' }));
    expect(ok).toMatchObject({ status: 'pass', summary: 'timezone Asia/Shanghai (/etc/timezone and /etc/localtime → /usr/share/zoneinfo/Asia/Shanghai)' });
  });

  it('a missing file is the guest being wrong (fail); a file there but unreadable is the harness not looking (error)', async () => {
    const exp = { authorizedKeys: [{ user: 'root', keys: [KEY] }] };
    const passwd = { 'getent passwd root || grep \'^root:\' /etc/passwd': { stdout: 'root:x:0:0:root:/root:/bin/sh\n' } };
    const missing = await probeAuthorizedKeys(probeContext(fakeGuest({ commands: passwd }), exp));
    expect(missing).toMatchObject({ status: 'fail', summary: '/root/.ssh/authorized_keys is missing' });
    const unreadable = await probeAuthorizedKeys(probeContext(fakeGuest({ commands: passwd, files: { '/root/.ssh/authorized_keys': UNREADABLE } }), exp));
    expect(unreadable.status).toBe('error');
    expect(unreadable.summary).toMatch(/^probe could not run: cat \/root\/\.ssh\/authorized_keys: \/root\/\.ssh\/authorized_keys exists but could not be read/);
    expect(unreadable.evidence?.['$ cat /root/.ssh/authorized_keys']).toBe('[stderr] cat: /root/.ssh/authorized_keys: Permission denied\n[exit 1]');
    const good = await probeAuthorizedKeys(probeContext(fakeGuest({ commands: passwd, files: { '/root/.ssh/authorized_keys': `${KEY}\n` } }), exp));
    expect(good).toMatchObject({ status: 'pass', summary: '1 key(s) usable for root' });
  });
});

describe('a probe that cannot run gives error, never fail', () => {
  it('a probe that throws → error verdict "probe could not run: …", keeping the evidence it saw', async () => {
    const throws = defineProbe('timezone', {
      expects: (e) => e.timezone,
      run: async (_tz, guest) => {
        await guest.exec(['cat', '/etc/timezone']);
        throw new Error('output I could not parse');
      },
    });
    const v = await throws(probeContext(debian(), { timezone: 'Asia/Shanghai' }));
    expect(v.status).toBe('error');
    expect(v.summary).toBe('probe could not run: output I could not parse');
    expect(v.evidence).toEqual({ '$ cat /etc/timezone': 'Asia/Shanghai' });
    expect(typeof v.durationMs).toBe('number');
  });

  it('SSH lost in the middle of a probe → error, with the evidence up to the drop', async () => {
    const v = await probeTimezone(probeContext(debian({ lost: (l) => l.startsWith('readlink') }), { timezone: 'Asia/Shanghai' }));
    expect(v.status).toBe('error');
    expect(v.summary).toMatch(/^probe could not run: readlink \/etc\/localtime: No response from server/);
    expect(v.evidence).toEqual({ '$ cat /etc/timezone': 'Asia/Shanghai', '$ readlink /etc/localtime': '[no result: No response from server]' });
  });

  it('a command that had to succeed and did not (GuestCommandError) → error', async () => {
    const broken = fakeGuest({ files: { '/etc/hostname': 'cloud\n' }, commands: { hostname: { code: 1, stderr: 'hostname: cannot\n' } } });
    const v = await probeHostname(probeContext(broken, { hostname: 'cloud' }));
    expect(v.status).toBe('error');
    expect(v.summary).toBe('probe could not run: hostname: exit 1 ([stderr] hostname: cannot [exit 1])');
    // …unless the probe catches it to judge.
    const judging = defineProbe('hostname', {
      expects: (e) => e.hostname,
      run: async (_h, guest) => guest.succeed(['hostname']).then(() => pass('ran'), (err: unknown) => (err instanceof GuestCommandError ? fail(`hostname exited ${err.code}`) : Promise.reject(err))),
    });
    expect(await judging(probeContext(broken, { hostname: 'cloud' }))).toMatchObject({ status: 'fail', summary: 'hostname exited 1' });
  });

  it('runProbes on a guest that stopped answering: every probe that runs is error, none fail', async () => {
    const gone = new ScriptedTransport(() => new Error('Not connected'));
    const ctx = probeContext(gone, {
      hostname: 'cloud',
      fqdn: 'cloud.yunshan.net',
      etcHosts: { fqdn: 'cloud.yunshan.net', hostname: 'cloud' },
      authorizedKeys: [{ user: 'root', keys: [KEY] }],
      timezone: 'Asia/Shanghai',
      runcmdPaths: ['/yunshan'],
      nics: [
        { mac: '52:54:00:12:34:56', mode: 'dhcp' },
        { mac: '52:54:00:12:34:57', mode: 'unconfigured' },
      ],
      datasource: 'ConfigDrive',
      cleanBoot: {},
    });
    const verdicts = await runProbes(ctx);
    expect(verdicts.map((v) => v.probe)).toEqual([...PROBE_NAMES]);
    const by = Object.fromEntries(verdicts.map((v) => [v.probe, v.status]));
    // password-login, metadata-requests and metadata-path expect nothing here; the rest ran and could not look.
    expect(by).toEqual({
      hostname: 'error',
      'etc-hosts': 'error',
      'authorized-keys': 'error',
      'password-login': 'n/a',
      timezone: 'error',
      runcmd: 'error',
      'nic-mode': 'error',
      'multi-nic': 'error',
      'clean-boot': 'error',
      'user-data-schema': 'error',
      datasource: 'error',
      'metadata-requests': 'n/a',
      'metadata-path': 'n/a',
    });
    for (const v of verdicts.filter((x) => x.status === 'error')) expect(v.summary).toMatch(/^probe could not run: .*Not connected/);
    expect(outcomeOf(verdicts)).toBe('error');
  });

  it('runProbes still turns a probe that throws outside defineProbe into error', async () => {
    const saved = PROBES.runcmd;
    PROBES.runcmd = () => Promise.reject(new Error('not built with defineProbe'));
    try {
      const [v] = await runProbes(probeContext(debian(), { runcmdPaths: ['/yunshan'] }), ['runcmd']);
      expect(v).toMatchObject({ probe: 'runcmd', status: 'error', summary: 'probe could not run: not built with defineProbe' });
    } finally {
      PROBES.runcmd = saved;
    }
  });

  it('outcomeOf: fail wins over error, error over pass', () => {
    const v = (status: 'pass' | 'fail' | 'error' | 'n/a') => ({ probe: 'hostname' as const, status, summary: '' });
    expect(outcomeOf([v('pass'), v('n/a')])).toBe('pass');
    expect(outcomeOf([v('pass'), v('error')])).toBe('error');
    expect(outcomeOf([v('error'), v('fail')])).toBe('fail');
  });
});

describe('Cirros profile', () => {
  it('reads the datasource from /run/cirros/datasource/dsname, not cloud-init', async () => {
    const { probeDatasource } = await import('../../harness/probes/cloud-init.ts');
    const guest = (dsname: string) => fakeGuest({ files: { '/run/cirros/datasource/dsname': `${dsname}\n` } });
    const cirros = { datasourceSource: 'cirros' as const };
    expect((await probeDatasource(probeContext(guest('configdrive'), { datasource: 'ConfigDrive' }, { image: cirros }))).status).toBe('pass');
    const wrong = await probeDatasource(probeContext(guest('ec2'), { datasource: 'ConfigDrive' }, { image: cirros }));
    expect(wrong).toMatchObject({ status: 'fail', summary: 'Cirros used "ec2", expected configdrive' });
  });

  it('does not ask hostname -f where the image cannot resolve its fqdn', async () => {
    const seen: string[] = [];
    const t = new ScriptedTransport((line) => {
      seen.push(line);
      if (line === 'hostname') return { stdout: 'cloud\n' };
      if (line === 'cat /etc/hostname') return { stdout: 'cloud\n' };
      return { code: 127, stderr: 'not found' };
    });
    const v = await probeHostname(probeContext(t, { hostname: 'cloud', fqdn: 'cloud.yunshan.net' }, { image: { resolvesFqdn: false } }));
    expect(v.status, v.summary).toBe('pass');
    expect(seen.some((l) => l.includes('hostname -f'))).toBe(false);
  });
});
