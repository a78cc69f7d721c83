import { describe, expect, it } from 'vitest';
import { nicExpectations, nicsFor, primaryNetPrefix } from '../../harness/plan/network-modes.ts';

describe('network modes', () => {
  it('static addresses sit outside slirp DHCP (.15+) on the net the datasource needs', () => {
    expect(primaryNetPrefix('configdrive-vfat')).toBe('10.0.2');
    expect(primaryNetPrefix('metadata-ec2')).toBe('169.254.169');
    expect(nicsFor('static', 'configdrive-iso9660')).toEqual([{ mac: '52:54:00:12:34:56', mode: 'static', address: '10.0.2.50/24', gateway: '10.0.2.2', dns: ['10.0.2.3'] }]);
  });

  it('multi-nic-static: two MACs, one default gateway, the second NIC on its own subnet', () => {
    const nics = nicsFor('multi-nic-static', 'configdrive-iso9660');
    expect(nics.map((n) => n.mac)).toEqual(['52:54:00:12:34:56', '52:54:00:12:34:57']);
    expect(nics[1]).toEqual({ mac: '52:54:00:12:34:57', mode: 'static', address: '10.0.3.50/24', dns: [] });
    expect(nicExpectations(nics, 'configdrive-vfat')).toEqual([
      { mac: '52:54:00:12:34:56', mode: 'static', address: '10.0.2.50/24', gateway: '10.0.2.2' },
      { mac: '52:54:00:12:34:57', mode: 'static', address: '10.0.3.50/24' },
    ]);
  });

  it('without network_data (EC2 API) only the first NIC is configured, by DHCP', () => {
    expect(nicExpectations(nicsFor('multi-nic-dhcp', 'metadata-ec2'), 'metadata-ec2')).toEqual([
      { mac: '52:54:00:12:34:56', mode: 'dhcp' },
      { mac: '52:54:00:12:34:57', mode: 'unconfigured' },
    ]);
    // Cirros's own DHCP client takes every NIC, EC2 or not.
    expect(nicExpectations(nicsFor('multi-nic-dhcp', 'metadata-ec2'), 'metadata-ec2', { dhcpEveryNic: true }).map((n) => n.mode)).toEqual(['dhcp', 'dhcp']);
    // The OpenStack metadata service serves network_data.json, which cloud-init applies: every NIC.
    expect(nicExpectations(nicsFor('multi-nic-dhcp', 'metadata-openstack'), 'metadata-openstack').map((n) => n.mode)).toEqual(['dhcp', 'dhcp']);
  });
});
