import { describe, expect, it } from 'vitest';
import { usableKeyLine } from '../../harness/probes/access.ts';
import { datasourceMatches, logProblems } from '../../harness/probes/cloud-init.ts';
import { findHostsEntry } from '../../harness/probes/identity.ts';
import { checkNic, type NetworkState } from '../../harness/probes/network.ts';
import { parseDefaultRoutes, parseDefaultRoutesText, parseEni, parseIpAddr, parseIpAddrText, parseLeases, parseNetplan, parseProcNetRoute } from '../../harness/probes/network-state.ts';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0cloudprobeTESTKEYxxxxxxxxxxxxxxxxxxxxxxx run';

// What cloud-init 22.4's ENI renderer writes for network_data.json (static first NIC, DHCP second).
const ENI = `# This file is generated from information provided by the datasource.
auto lo
iface lo inet loopback
    dns-nameservers 10.0.2.3

auto eth0
iface eth0 inet static
    address 10.0.2.50/24
    mtu 1500
    post-up route add default gw 10.0.2.2 || true
    pre-down route del default gw 10.0.2.2 || true

auto eth1
iface eth1 inet dhcp
`;

const NETPLAN = `network:
    ethernets:
        eth0:
            addresses:
            - 10.0.2.50/24
            match:
                macaddress: 52:54:00:12:34:56
            mtu: 1500
            nameservers:
                addresses:
                - 10.0.2.3
            routes:
            -   to: 0.0.0.0/0
                via: 10.0.2.2
            set-name: eth0
        eth1:
            dhcp4: true
            match:
                macaddress: 52:54:00:12:34:57
            set-name: eth1
    version: 2
`;

const IP_ADDR = JSON.stringify([
  { ifindex: 1, ifname: 'lo', address: '00:00:00:00:00:00', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
  { ifindex: 2, ifname: 'eth0', address: '52:54:00:12:34:56', addr_info: [{ family: 'inet', local: '10.0.2.50', prefixlen: 24 }, { family: 'inet6', local: 'fe80::1', prefixlen: 64 }] },
  { ifindex: 3, ifname: 'eth1', address: '52:54:00:12:34:57', addr_info: [{ family: 'inet', local: '10.0.2.15', prefixlen: 24 }] },
  { ifindex: 4, ifname: 'eth2', address: '52:54:00:12:34:58', addr_info: [] },
]);

const LEASES = `==> /var/lib/dhcp/dhclient.eth1.leases
lease {
  interface "eth1";
  fixed-address 10.0.2.15;
  option subnet-mask 255.255.255.0;
}
==> /run/systemd/netif/leases/4
# This is private data. Do not parse.
ADDRESS=10.0.3.15
`;

describe('rendered network config', () => {
  it('parses ENI stanzas: method, CIDR address, gateway from post-up', () => {
    const eni = parseEni(ENI);
    expect(eni.get('eth0')).toEqual({ method: 'static', addresses: ['10.0.2.50/24'], gateway: '10.0.2.2' });
    expect(eni.get('eth1')).toEqual({ method: 'dhcp', addresses: [] });
    expect(eni.get('lo')?.method).toBe('loopback');
  });

  it('parses ENI address + netmask into CIDR', () => {
    expect(parseEni('iface eth0 inet static\n  address 192.168.1.10\n  netmask 255.255.255.0\n  gateway 192.168.1.1\n').get('eth0')).toEqual({
      method: 'static',
      addresses: ['192.168.1.10/24'],
      gateway: '192.168.1.1',
    });
  });

  it('reads an ENI netmask given as bits, and keeps one that is no netmask as written', () => {
    expect(parseEni('iface eth0 inet static\n  address 10.0.2.50\n  netmask 23\n').get('eth0')?.addresses).toEqual(['10.0.2.50/23']);
    expect(parseEni('iface eth0 inet static\n  address 10.0.2.50\n  netmask 255.255.254.0\n').get('eth0')?.addresses).toEqual(['10.0.2.50/23']);
    expect(parseEni('iface eth0 inet static\n  address 10.0.2.50\n  netmask 255.0.255.0\n').get('eth0')?.addresses).toEqual(['10.0.2.50/255.0.255.0']);
  });

  it('parses netplan ethernets with their MACs', () => {
    const np = parseNetplan(NETPLAN);
    expect(np.get('eth0')).toEqual({ method: 'static', addresses: ['10.0.2.50/24'], gateway: '10.0.2.2', mac: '52:54:00:12:34:56' });
    expect(np.get('eth1')).toEqual({ method: 'dhcp', addresses: [], mac: '52:54:00:12:34:57' });
  });
});

describe('live state', () => {
  it('parses ip -j addr, routes and lease files', () => {
    const live = parseIpAddr(IP_ADDR);
    expect(live[1]).toEqual({ ifname: 'eth0', ifindex: 2, mac: '52:54:00:12:34:56', inet: [{ cidr: '10.0.2.50/24', dynamic: false }] });
    expect(parseDefaultRoutes(JSON.stringify([{ dst: 'default', gateway: '10.0.2.2', dev: 'eth0' }, { dst: '10.0.2.0/24', dev: 'eth0' }]))).toEqual([{ gateway: '10.0.2.2', dev: 'eth0' }]);
    expect(parseLeases(LEASES)).toEqual([
      { file: '/var/lib/dhcp/dhclient.eth1.leases', iface: 'eth1', addresses: ['10.0.2.15'] },
      { file: '/run/systemd/netif/leases/4', ifindex: 4, addresses: ['10.0.3.15'] },
    ]);
  });
});

function state(renderer: 'eni' | 'netplan', over: Partial<NetworkState> = {}): NetworkState {
  return {
    renderer,
    rendered: renderer === 'eni' ? parseEni(ENI) : parseNetplan(NETPLAN),
    live: parseIpAddr(IP_ADDR),
    routes: [{ gateway: '10.0.2.2', dev: 'eth0' }],
    leases: parseLeases(LEASES),
    ...over,
  };
}

// BusyBox 1.35's `ip` (Cirros's userland, the fixture's) has no -j: its text output, captured
// from a namespace with a veth pair, and /proc/net/route from the same.
const BUSYBOX_IP_ADDR = `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
    inet6 ::1/128 scope host
       valid_lft forever preferred_lft forever
2: v1@v0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue qlen 1000
    link/ether 1a:7f:39:b9:04:6e brd ff:ff:ff:ff:ff:ff
    inet6 fe80::187f:39ff:feb9:46e/64 scope link tentative
       valid_lft forever preferred_lft forever
3: v0@v1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue qlen 1000
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
    inet 10.0.2.15/24 scope global v0
       valid_lft forever preferred_lft forever
`;
const PROC_NET_ROUTE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
v0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0
v0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
`;

describe('live state without JSON (BusyBox ip, /proc)', () => {
  it('reads interfaces, MACs and IPv4 addresses from `ip addr show` text', () => {
    expect(parseIpAddrText(BUSYBOX_IP_ADDR)).toEqual([
      { ifname: 'lo', ifindex: 1, mac: '00:00:00:00:00:00', inet: [{ cidr: '127.0.0.1/8', dynamic: false }] },
      { ifname: 'v1', ifindex: 2, mac: '1a:7f:39:b9:04:6e', inet: [] },
      { ifname: 'v0', ifindex: 3, mac: '52:54:00:12:34:56', inet: [{ cidr: '10.0.2.15/24', dynamic: false }] },
    ]);
  });

  it("marks iproute2's dynamic addresses", () => {
    const text = '2: eth0: <BROADCAST,UP> mtu 1500\n    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff\n    inet 10.0.2.15/24 brd 10.0.2.255 scope global dynamic eth0\n';
    expect(parseIpAddrText(text)[0]!.inet).toEqual([{ cidr: '10.0.2.15/24', dynamic: true }]);
  });

  it('reads default routes from `ip route show` text and /proc/net/route', () => {
    expect(parseDefaultRoutesText('default via 10.0.2.2 dev v0 \n10.0.2.0/24 dev v0 scope link  src 10.0.2.15 \n')).toEqual([{ gateway: '10.0.2.2', dev: 'v0' }]);
    expect(parseDefaultRoutesText('10.0.2.0/24 dev v0 scope link\n')).toEqual([]);
    expect(parseProcNetRoute(PROC_NET_ROUTE)).toEqual([{ gateway: '10.0.2.2', dev: 'v0' }]);
  });
});

describe('DHCP clients as lease evidence', () => {
  it('reads running clients and their interface', () => {
    const dump = '==> dhcp-client 212\nudhcpc -i eth0 -n -t 5 -T 1 -s /etc/udhcpc.script \n==> dhcp-client 300\n/sbin/dhclient -4 -v -pf /run/dhclient.eth1.pid eth1 \n';
    expect(parseLeases(dump)).toEqual([
      { file: 'dhcp-client 212', iface: 'eth0', addresses: [], client: 'udhcpc -i eth0 -n -t 5 -T 1 -s /etc/udhcpc.script' },
      { file: 'dhcp-client 300', iface: 'eth1', addresses: [], client: '/sbin/dhclient -4 -v -pf /run/dhclient.eth1.pid eth1' },
    ]);
  });
});

describe('checkNic', () => {
  for (const renderer of ['eni', 'netplan'] as const) {
    it(`${renderer}: a static NIC passes when rendered and live agree`, () => {
      expect(checkNic(state(renderer), { mac: '52:54:00:12:34:56', mode: 'static', address: '10.0.2.50/24', gateway: '10.0.2.2' }).problems).toEqual([]);
    });
    it(`${renderer}: a DHCP NIC passes with a rendered dhcp entry and a lease for its address`, () => {
      const f = checkNic(state(renderer), { mac: '52:54:00:12:34:57', mode: 'dhcp' });
      expect(f.problems).toEqual([]);
      expect(f.live).toContain('dhclient.eth1.leases');
    });
  }

  it('fails a NIC expected static that is rendered and live as DHCP', () => {
    const f = checkNic(state('eni'), { mac: '52:54:00:12:34:57', mode: 'static', address: '10.0.2.50/24' });
    expect(f.problems.join('\n')).toMatch(/rendered config says dhcp, expected static/);
    expect(f.problems.join('\n')).toMatch(/live addresses 10\.0\.2\.15\/24, expected 10\.0\.2\.50\/24/);
  });

  it('fails a NIC expected DHCP whose address came from nowhere (no lease, not dynamic)', () => {
    const f = checkNic(state('eni', { leases: [] }), { mac: '52:54:00:12:34:57', mode: 'dhcp' });
    expect(f.problems).toEqual(['eth1 (52:54:00:12:34:57): 10.0.2.15/24 is neither a dynamic address nor found in a DHCP lease file, and no DHCP client runs for eth1']);
  });

  it('accepts a running DHCP client for the interface as the lease (BusyBox udhcpc keeps none on disk)', () => {
    const client = { file: 'dhcp-client 212', iface: 'eth1', addresses: [], client: 'udhcpc -i eth1' };
    const f = checkNic(state('eni', { leases: [client] }), { mac: '52:54:00:12:34:57', mode: 'dhcp' });
    expect(f.problems).toEqual([]);
    expect(f.live).toBe('10.0.2.15/24 (DHCP client: udhcpc -i eth1)');
    // A client for another interface proves nothing about this one.
    expect(checkNic(state('eni', { leases: [{ ...client, iface: 'eth0' }] }), { mac: '52:54:00:12:34:57', mode: 'dhcp' }).problems).toHaveLength(1);
  });

  it('fails a static NIC without the expected default route', () => {
    const f = checkNic(state('eni', { routes: [] }), { mac: '52:54:00:12:34:56', mode: 'static', address: '10.0.2.50/24', gateway: '10.0.2.2' });
    expect(f.problems.join('\n')).toMatch(/no default route via 10\.0\.2\.2/);
  });

  it('an unconfigured NIC passes only with no rendered entry and no address', () => {
    expect(checkNic(state('eni'), { mac: '52:54:00:12:34:58', mode: 'unconfigured' }).problems).toEqual([]);
    expect(checkNic(state('eni'), { mac: '52:54:00:12:34:57', mode: 'unconfigured' }).problems.join('\n')).toMatch(/expected unconfigured, but rendered config says dhcp/);
  });

  it('says so when the MAC is not in the guest or the rendered file is missing', () => {
    expect(checkNic(state('eni'), { mac: '52:54:00:aa:aa:aa', mode: 'dhcp' }).problems).toEqual(['no interface with MAC 52:54:00:aa:aa:aa in the guest']);
    const missing = checkNic(state('eni', { rendered: undefined, renderedMissing: true }), { mac: '52:54:00:12:34:57', mode: 'dhcp' });
    expect(missing.problems.join('\n')).toMatch(/rendered config has no entry \(rendered config missing\)/);
  });
});

describe('other probe helpers', () => {
  it('finds the manage_etc_hosts line', () => {
    const hosts = '127.0.0.1 localhost\n127.0.1.1 cloud.yunshan.net cloud\n::1 localhost ip6-localhost\n';
    expect(findHostsEntry(hosts, 'cloud.yunshan.net', 'cloud')).toBe('127.0.1.1 cloud.yunshan.net cloud');
    expect(findHostsEntry('127.0.0.1 localhost\n# 127.0.1.1 cloud.yunshan.net cloud\n', 'cloud.yunshan.net', 'cloud')).toBeUndefined();
  });

  it('tells a usable authorized_keys line from a disable_root one', () => {
    expect(usableKeyLine(`${KEY}\n`, KEY)).toEqual({ line: KEY });
    const restricted = `no-port-forwarding,command="echo 'Please login as the user \\"ubuntu\\" rather than the user \\"root\\".';echo;sleep 10;exit 142" ${KEY}`;
    expect(usableKeyLine(restricted, KEY)).toEqual({ restricted });
    expect(usableKeyLine('ssh-ed25519 AAAAother x\n', KEY)).toEqual({});
  });

  it('matches datasource details as cloud-init writes them', () => {
    expect(datasourceMatches('DataSourceConfigDrive [net,ver=2][source=/dev/sr0]', 'ConfigDrive')).toBe(true);
    expect(datasourceMatches('DataSourceOpenStackLocal [net,ver=2]', 'OpenStack')).toBe(true);
    expect(datasourceMatches('DataSourceOpenStack [net,ver=2]', 'ConfigDrive')).toBe(false);
    expect(datasourceMatches('DataSourceNone', 'OpenStack')).toBe(false);
  });

  it('picks WARNING and worse lines out of cloud-init.log', () => {
    const log = [
      '2026-11-30 10:00:01,000 - util.py[DEBUG]: Running command',
      '2026-11-30 10:00:02,000 - cc_set_passwords.py[WARNING]: DEPRECATION: chpasswd list',
      '2026-11-30 10:00:03,000 - handlers.py[ERROR]: something broke',
    ].join('\n');
    expect(logProblems(log)).toEqual([
      '2026-11-30 10:00:02,000 - cc_set_passwords.py[WARNING]: DEPRECATION: chpasswd list',
      '2026-11-30 10:00:03,000 - handlers.py[ERROR]: something broke',
    ]);
  });
});

describe('metadata request paths', () => {
  it('lets /openstack/latest/… and /latest/… stand for the version the guest chose', async () => {
    const { metadataPathMatches } = await import('../../harness/probes/metadata.ts');
    expect(metadataPathMatches('/openstack/latest/meta_data.json', '/openstack/2018-08-27/meta_data.json')).toBe(true);
    expect(metadataPathMatches('/openstack/latest/meta_data.json', '/openstack/latest/meta_data.json')).toBe(true);
    expect(metadataPathMatches('/openstack/latest/meta_data.json', '/openstack/2018-08-27/user_data')).toBe(false);
    expect(metadataPathMatches('/openstack/latest/meta_data.json', '/openstack/2018-08-27/meta_data.jsonX')).toBe(false);
    expect(metadataPathMatches('/latest/meta-data/instance-id', '/2009-04-04/meta-data/instance-id')).toBe(true);
    expect(metadataPathMatches('/openstack/2018-08-27/user_data', '/openstack/2017-02-22/user_data')).toBe(false);
  });
});
