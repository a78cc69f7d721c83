import type { Nic } from '../model/instance.ts';
import type { NetworkAttachment, NetworkModule } from './module.ts';
import { addressOf, contains, networkOf } from '../util/ipv4.ts';
import { DEFAULT_NET, METADATA_NET, slirpDhcpAddress, type NicSpec } from '../vm/spec.ts';

/**
 * The instance's NICs → QEMU NICs, each on its own slirp network, and the address SSH must reach.
 *
 * - The first NIC carries SSH. For a static NIC the forward targets the static address, which
 *   slirp's DHCP would never hand out, so SSH works only if the static config was applied.
 * - Metadata-service runs put the first NIC on 169.254.169.0/24, since guestfwd only works for an
 *   address inside the user network; the guest's DHCP address is then 169.254.169.15.
 * - A static NIC's slirp network is the one its address belongs to (so slirp is its gateway .2).
 * - Every further DHCP NIC gets a subnet of its own (10.0.3.0/24, 10.0.4.0/24, …): on one shared
 *   /24 with equal route metrics a reply could leave through the other NIC, and a guest that
 *   brings all NICs up at once (netplan, networkd) would then lose its SSH connection.
 */
export function planNics(nics: readonly Nic[], opts: { metadataService?: boolean } = {}): { nics: NicSpec[]; guestAddress: string } {
  let guestAddress = '';
  const specs = nics.map((nic, i): NicSpec => {
    const metadata = i === 0 && opts.metadataService === true;
    let net = metadata ? METADATA_NET : i === 0 ? DEFAULT_NET : `10.0.${2 + i}.0/24`;
    if (nic.mode === 'static') {
      const staticNet = networkOf(nic.address!);
      if (metadata && staticNet !== METADATA_NET) {
        throw new Error(`NIC 0: a metadata-service run needs the first NIC on ${METADATA_NET} (guestfwd), but its static address is ${nic.address}`);
      }
      net = staticNet;
    }
    const spec: NicSpec = { mac: nic.mac, net };
    if (i === 0) {
      guestAddress = nic.mode === 'static' ? addressOf(nic.address!) : slirpDhcpAddress(net);
      if (!contains(net, guestAddress)) throw new Error(`NIC 0: ${guestAddress} is outside ${net}`);
      spec.sshForward = { hostPort: 0, guestAddress };
    }
    return spec;
  });
  return { nics: specs, guestAddress };
}

/** QEMU user networking: nothing to create on the host; guestfwd reaches the metadata proxy. */
export const userNetwork: NetworkModule = {
  async attach({ instance, metadataService }): Promise<NetworkAttachment> {
    const { nics, guestAddress } = planNics(instance.nics, { metadataService });
    return {
      nics,
      guestAddress,
      connectMetadata: (port) => {
        if (!metadataService || !nics[0]) throw new Error('this NIC plan has no metadata network');
        nics[0].metadataProxyPort = port;
      },
    };
  },
};
