import { describe, expect, it } from 'vitest';
import {
  bridgeName,
  CellNames,
  dhcpDeviceName,
  IFNAME_MAX,
  parseNamespaceName,
  parseSocketDirName,
  routerDeviceName,
  runPrefix,
  shortId,
  tapName,
} from '../../harness/network/neutron/names.ts';

const NET = '82131e44-2989-5d81-9b59-d3e0db9799d1';
const PORT = '6dff047d-5f8d-584a-8696-fa1ff8593be9';

describe('neutron names', () => {
  it('puts the owner pid, in base 36, into every namespace name', () => {
    expect(runPrefix(4242)).toBe('cp39u');
    const n = new CellNames('c1', 4242);
    expect(n.segment).toBe('cp39u-c1-seg');
    expect(n.dhcpNamespace(NET)).toBe('cp39u-c1-qdhcp-82131e44');
    expect(n.routerNamespace(PORT)).toBe('cp39u-c1-qrouter-6dff047d');
    expect(n.probeNamespace(PORT)).toBe('cp39u-c1-qprobe-6dff047d');
    expect(n.vmNamespace(PORT)).toBe('cp39u-c1-vm-6dff047d');
    expect(n.socketDir('/tmp')).toBe('/tmp/cloudprobe-net-cp39u-c1');
  });

  it('reads the owner back out of its own names, and only out of those', () => {
    const n = new CellNames('ab12', 987654);
    for (const name of [n.segment, n.dhcpNamespace(NET), n.routerNamespace(NET), n.probeNamespace(PORT), n.vmNamespace(PORT)]) {
      expect(parseNamespaceName(name)).toMatchObject({ pid: 987654, cell: 'ab12' });
    }
    expect(parseNamespaceName(n.segment)?.role).toBe('seg');
    expect(parseNamespaceName(n.dhcpNamespace(NET))?.role).toBe('qdhcp');
    expect(parseSocketDirName('cloudprobe-net-cp39u-c1')).toEqual({ pid: 4242, cell: 'c1' });
    for (const foreign of ['qdhcp-82131e44-2989-5d81-9b59-d3e0db9799d1', 'cp39u-c1-other', 'cpXY-c1-seg', 'cp39u-C1-seg', 'cp39u-c1-seg-x', 'ns1']) {
      expect(parseNamespaceName(foreign), foreign).toBeUndefined();
    }
    expect(parseSocketDirName('cloudprobe-vm-abc')).toBeUndefined();
  });

  it("gives devices neutron's linuxbridge names, within IFNAMSIZ", () => {
    expect(bridgeName(NET)).toBe('brq82131e44-29');
    expect(tapName(PORT)).toBe('tap6dff047d-5f');
    expect(dhcpDeviceName(PORT)).toBe('ns-6dff047d-5f');
    expect(routerDeviceName(PORT)).toBe('qr-6dff047d-5f');
    for (const name of [bridgeName(NET), tapName(PORT), dhcpDeviceName(PORT), routerDeviceName(PORT)]) expect(name.length).toBeLessThanOrEqual(IFNAME_MAX);
  });

  it('refuses a cell name that would not make a parsable namespace name', () => {
    expect(() => new CellNames('Cell 1')).toThrow(/^cell: "Cell 1" must be 1 to 12 characters a-z 0-9/);
    expect(() => new CellNames('abcdefghijklm')).toThrow(/cell/);
    expect(shortId('l3-agent, router attached')).toMatch(/^[0-9a-f]{6}$/);
    expect(() => new CellNames(shortId('any label'))).not.toThrow();
  });
});

