import type { NetworkBackendKind } from '../model/networks.ts';
import type { NetworkModule } from './module.ts';
import { neutronNetwork } from './neutron/backend.ts';
import { userNetwork } from './user.ts';

export type { BackendMetadataRequest, NetworkAttachment, NetworkModule, NetworkSetup } from './module.ts';

/** The module behind each entry of the network backend registry (harness/model/networks.ts). */
export const NETWORK_MODULES: Readonly<Record<NetworkBackendKind, NetworkModule>> = {
  user: userNetwork,
  neutron: neutronNetwork,
};
