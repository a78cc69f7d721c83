import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FailureExpectation } from '../../harness/model/expectations.ts';
import { CLOUD_INIT_FINISHED, cloudInitCrashOf, cloudInitVersionOf, parseConsole } from '../../harness/probes/console-evidence.ts';
import { judgeFromConsole } from '../../harness/probes/console-judge.ts';
import type { MetadataRequest } from '../../harness/probes/context.ts';

// Real serial logs of debian-12-eni (cloud-init 22.4.2) on the neutron backend, from
// cases/neutron.yaml: a network on no router (DHCP lease, metadata unreachable) and a subnet with
// neither DHCP nor a config drive (no address at all). Raw, with the console's CRs and escapes.
const fixture = (name: string) => readFileSync(new URL(`fixtures/console/${name}.cloud-init-22.4.log`, import.meta.url), 'utf8');
const NO_ROUTER = fixture('l3-agent-no-router');
const NO_ADDRESS = fixture('no-dhcp-metadata');
const MAC = '52:54:00:12:34:56';

const ALL_MODES: FailureExpectation['modes'] = ['metadata-unreachable', 'no-datasource', 'hostname-not-from-metadata'];
const statuses = (input: Parameters<typeof judgeFromConsole>[0]) => Object.fromEntries(judgeFromConsole(input).map((v) => [v.probe, v.status]));

describe('parseConsole on real cloud-init 22.4 consoles', () => {
  it('reads the final message, the net table, the failed metadata calls and the prompt (router-less network)', () => {
    const ev = parseConsole(NO_ROUTER);
    expect(ev.finished).toMatchObject({ version: '22.4.2', datasource: 'DataSourceNone', upSeconds: 136.79 });
    expect(ev.netDevices.filter((r) => r.hwAddress === MAC).map((r) => r.address)).toEqual(['172.16.11.26', 'fe80::5054:ff:fe12:3456/64']);
    expect(ev.metadataFailures.some((l) => l.includes("Timed out, no response from urls: ['http://169.254.169.254/openstack']"))).toBe(true);
    expect(ev.metadataFailures.some((l) => l.includes('No active metadata service found'))).toBe(true);
    expect(ev.fallbackLine).toMatch(/Used fallback datasource/);
    expect(ev.routes).toEqual([
      { destination: '0.0.0.0', gateway: '172.16.11.1', genmask: '0.0.0.0', interface: 'eth0', flags: 'UG' },
      { destination: '172.16.11.0', gateway: '0.0.0.0', genmask: '255.255.255.0', interface: 'eth0', flags: 'U' },
    ]);
    expect(ev.activations).toHaveLength(1);
    // The prompt shares its line with the next cloud-init message: only the prompt is taken.
    expect(ev.loginPrompt).toEqual({ hostname: 'host-172-16-11-26', line: 'host-172-16-11-26 login:' });
  });

  it('a NIC without DHCP or config drive has only its IPv6 link-local row', () => {
    const ev = parseConsole(NO_ADDRESS);
    expect(ev.netDevices.filter((r) => r.hwAddress === MAC).map((r) => r.address)).toEqual(['fe80::5054:ff:fe12:3456/64']);
    expect(ev.loginPrompt?.hostname).toBe('localhost');
    // cloud-init still applied its fallback config (DHCP on NIC 1): it brought eth0 up, no route came.
    expect(ev.activations[0]).toContain("Running ['ifup', 'eth0']");
    expect(ev.routes).toEqual([]);
  });

  it('the cloud-init version from the first stage banner; none on a console without cloud-init', () => {
    expect(cloudInitVersionOf(NO_ROUTER)).toBe('22.4.2');
    expect(cloudInitVersionOf('cloudprobe-fixture: init started\ncloudprobe-fixture: ready\n')).toBeUndefined();
  });

  it("finds a crashed stage: cloud-init 22.4's EC2 datasource on a neutron network (init stage, route already there)", () => {
    const crash = cloudInitCrashOf(fixture('ec2-neutron-init-crash'));
    expect(crash?.stage).toBe('init');
    expect(crash?.exception.split('\n')[0]).toBe('cloudinit.subp.ProcessExecutionError: Unexpected error while running command.');
    expect(crash?.exception).toContain('Stderr: RTNETLINK answers: File exists');
    expect(crash?.traceback).toMatch(/_bringup_static_routes/);
    expect(cloudInitCrashOf(NO_ROUTER)).toBeUndefined();
  });

  it('CLOUD_INIT_FINISHED matches the final message with a real datasource too', () => {
    const line = 'Cloud-init v. 25.1.4 finished at Thu, 03 Dec 2026 10:00:00 +0000. Datasource DataSourceConfigDrive [net,ver=2][source=/dev/sr0].  Up 71.23 seconds';
    expect(CLOUD_INIT_FINISHED.exec(line)?.[2]).toBe('DataSourceConfigDrive [net,ver=2][source=/dev/sr0]');
    expect(CLOUD_INIT_FINISHED.test("Cloud-init v. 22.4.2 running 'modules:final' at Fri, 04 Dec 2026")).toBe(false);
  });

  it('a kernel line in the middle of the net table does not end it', () => {
    const text = [
      'ci-info: +++++++Net device info+++++++',
      'ci-info: | Device |  Up  | Address | Mask | Scope | Hw-Address |',
      '[   70.9] random: crng init done',
      `ci-info: |  eth1  | True | 10.0.0.5 | 255.255.255.0 | global | ${MAC.toUpperCase()} |`,
      'ci-info: ++++++Route IPv4 info++++++',
      'ci-info: |   0   | 0.0.0.0 | 10.0.0.1 | 0.0.0.0 | eth1 | UG |',
    ].join('\n');
    expect(parseConsole(text).netDevices).toEqual([{ device: 'eth1', up: true, address: '10.0.0.5', mask: '255.255.255.0', scope: 'global', hwAddress: MAC }]);
  });
});

describe('judgeFromConsole', () => {
  const expected: FailureExpectation = { modes: ALL_MODES, hostname: 'cloud', nics: [{ mac: MAC, state: 'address', address: '172.16.11.26/24' }] };

  it('router-less network: every expected failure seen, with the lines as evidence', () => {
    const verdicts = judgeFromConsole({ console: NO_ROUTER, expected, metadataRequests: [] });
    expect(Object.fromEntries(verdicts.map((v) => [v.probe, v.status]))).toEqual({
      'metadata-unreachable': 'pass',
      'no-datasource': 'pass',
      'hostname-not-from-metadata': 'pass',
      'nic-state': 'pass',
    });
    const unreachable = verdicts.find((v) => v.probe === 'metadata-unreachable')!;
    expect(unreachable.evidence?.['console: calls to 169.254.169.254 that failed']).toContain('169.254.169.254/openstack');
    expect(verdicts.find((v) => v.probe === 'hostname-not-from-metadata')!.summary).toBe('the login prompt shows host-172-16-11-26, not cloud from metadata');
  });

  it('no address: nic-state passes for no-address and fails for an expected address', () => {
    expect(statuses({ console: NO_ADDRESS, expected: { modes: ALL_MODES, hostname: 'cloud', nics: [{ mac: MAC, state: 'no-address' }] } })['nic-state']).toBe('pass');
    const wrong = judgeFromConsole({ console: NO_ADDRESS, expected: { modes: [], nics: [{ mac: MAC, state: 'address', address: '172.16.11.26' }] } });
    expect(wrong.find((v) => v.probe === 'nic-state')).toMatchObject({ status: 'fail', summary: `eth0 (${MAC}) has no IPv4 address, expected 172.16.11.26` });
  });

  it('fails when the guest did get metadata: answered requests, a real datasource, the metadata host name', () => {
    const reached = NO_ROUTER.replace('Datasource DataSourceNone.', 'Datasource DataSourceOpenStack [net,ver=2].').replaceAll('host-172-16-11-26 login:', 'cloud login:');
    const answered: MetadataRequest[] = [{ method: 'GET', path: '/openstack/2018-08-27/meta_data.json', status: 200, via: 'router' }];
    const verdicts = judgeFromConsole({ console: reached, expected, metadataRequests: answered });
    const by = Object.fromEntries(verdicts.map((v) => [v.probe, v]));
    expect(by['metadata-unreachable']).toMatchObject({ status: 'fail', summary: 'the metadata agent answered 1 request(s) from this guest (first: /openstack/2018-08-27/meta_data.json)' });
    expect(by['no-datasource']).toMatchObject({ status: 'fail', summary: 'cloud-init used DataSourceOpenStack [net,ver=2], not the fallback DataSourceNone' });
    expect(by['hostname-not-from-metadata']?.status).toBe('fail');
  });

  it('fails metadata-unreachable when cloud-init finished without ever trying 169.254.169.254', () => {
    const untried = NO_ROUTER.split('\n').filter((l) => !/169\.254\.169\.254|No active metadata/.test(l)).join('\n');
    expect(statuses({ console: untried, expected, metadataRequests: [] })['metadata-unreachable']).toBe('fail');
  });

  it('a console cut before cloud-init finished is error (could not look), never fail', () => {
    const cut = NO_ROUTER.slice(0, NO_ROUTER.indexOf('ci-info: ++++'));
    const verdicts = judgeFromConsole({ console: cut, expected });
    expect(Object.fromEntries(verdicts.map((v) => [v.probe, v.status]))).toEqual({
      'metadata-unreachable': 'error',
      'no-datasource': 'error',
      'hostname-not-from-metadata': 'error',
      'nic-state': 'error',
    });
  });

  it('modes the case does not expect are n/a', () => {
    expect(statuses({ console: NO_ROUTER, expected: { modes: ['no-datasource'] } })).toEqual({
      'metadata-unreachable': 'n/a',
      'no-datasource': 'pass',
      'hostname-not-from-metadata': 'n/a',
      'nic-state': 'n/a',
    });
  });
});
