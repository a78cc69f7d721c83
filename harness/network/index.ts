import type { Instance } from '../model/instance.ts';
import type { NetworkBackendKind } from '../model/networks.ts';
import type { CleanupStack } from '../util/cleanup-stack.ts';
import type { NicSpec } from '../vm/spec.ts';
import { userNetwork } from './user.ts';

/**
 * A network backend's module: given the instance's NICs, the QEMU NICs to boot with and the
 * address SSH reaches. The guest's address is known before any metadata proxy exists, so the
 * datasource can register the instance under it; the proxy is connected afterwards.
 */
export interface NetworkAttachment {
  nics: NicSpec[];
  /** Address sshd listens on inside the guest. */
  guestAddress: string;
  /** Route the guest's 169.254.169.254:80 to this loopback port (the instance's metadata proxy). */
  connectMetadata(proxyPort: number): void;
}

export interface NetworkSetup {
  instance: Instance;
  /** The guest reads the metadata service, so 169.254.169.254 must be reachable. */
  metadataService: boolean;
  workDir: string;
  /** Where the backend registers the undo of whatever it creates. */
  cleanup: CleanupStack;
}

export interface NetworkModule {
  attach(setup: NetworkSetup): Promise<NetworkAttachment>;
}

/** The module behind each entry of the network backend registry (harness/model/networks.ts). */
export const NETWORK_MODULES: Readonly<Record<NetworkBackendKind, NetworkModule>> = {
  user: userNetwork,
};
