import type { Nic } from '../model/instance.ts';
import type { NicExpectation } from '../model/expectations.ts';
import { datasourceDef, usesMetadataService, type DatasourceKind } from '../model/datasources.ts';
import type { NetworkMode } from './case-schema.ts';

/**
 * Network modes → the instance's NICs, and what cloud-init must then have done to each NIC.
 *
 * Every NIC is its own slirp network. Config-drive guests sit on slirp's default 10.0.2.0/24 (DHCP
 * hands out 10.0.2.15); metadata-service guests sit on 169.254.169.0/24 because `guestfwd` to
 * 169.254.169.254 only works inside the user network (docs/facts.md §4). A static address is `.50`,
 * outside slirp's DHCP pool (which starts at .15), so SSH to it works only if the static
 * configuration was really applied.
 */

export const NIC_MACS = ['52:54:00:12:34:56', '52:54:00:12:34:57'] as const;

/** The slirp /24 prefix the first NIC lives on for this datasource. */
export function primaryNetPrefix(datasource: DatasourceKind): string {
  return usesMetadataService(datasource) ? '169.254.169' : '10.0.2';
}

function staticNic(mac: string, prefix: string, withGateway: boolean): Nic {
  return {
    mac,
    mode: 'static',
    address: `${prefix}.50/24`,
    ...(withGateway ? { gateway: `${prefix}.2` } : {}),
    dns: withGateway ? [`${prefix}.3`] : [],
  };
}

export function nicsFor(mode: NetworkMode, datasource: DatasourceKind): Nic[] {
  const prefix = primaryNetPrefix(datasource);
  const [m0, m1] = NIC_MACS;
  switch (mode) {
    case 'dhcp':
      return [{ mac: m0, mode: 'dhcp', dns: [] }];
    case 'static':
      return [staticNic(m0, prefix, true)];
    case 'multi-nic-dhcp':
      return [
        { mac: m0, mode: 'dhcp', dns: [] },
        { mac: m1, mode: 'dhcp', dns: [] },
      ];
    case 'multi-nic-static':
      // The second NIC gets its own subnet and no gateway: one default route, no ambiguity.
      return [staticNic(m0, prefix, true), staticNic(m1, '10.0.3', false)];
  }
}

/**
 * What each NIC must look like after boot, in QEMU order. An image whose own DHCP client takes
 * every NIC (Cirros) has them all by DHCP; cloud-init without network data only the first.
 */
export function nicExpectations(nics: Nic[], datasource: DatasourceKind, image: { dhcpEveryNic?: boolean } = {}): NicExpectation[] {
  if (image.dhcpEveryNic) return nics.map((n) => ({ mac: n.mac, mode: 'dhcp' }));
  if (!datasourceDef(datasource).carriesNetworkData) {
    return nics.map((n, k) => ({ mac: n.mac, mode: k === 0 ? 'dhcp' : 'unconfigured' }));
  }
  return nics.map((n) =>
    n.mode === 'static'
      ? { mac: n.mac, mode: 'static', ...(n.address ? { address: n.address } : {}), ...(n.gateway ? { gateway: n.gateway } : {}) }
      : { mac: n.mac, mode: 'dhcp' },
  );
}
