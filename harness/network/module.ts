import type { Instance } from '../model/instance.ts';
import type { TopologySpec } from '../model/topology.ts';
import type { CleanupStack } from '../util/cleanup-stack.ts';
import type { ArtifactWriter } from '../vm/artifacts.ts';
import type { NicSpec } from '../vm/spec.ts';

/** One metadata request as the backend's own proxy path saw it (neutron: the metadata agent). */
export interface BackendMetadataRequest {
  method: string;
  path: string;
  status: number;
  /** The proxy it came by: `router` (qrouter, l3-agent) or `dhcp` (qdhcp, dhcp-agent). */
  via?: string;
  namespace?: string;
}

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
  /** Where SSH reaches the guest when no NIC forwards it (a loopback relay into the backend's namespaces). */
  sshEndpoint?: { host: string; port: number };
  /** The network namespace QEMU must run in. */
  netns?: string;
  /** The backend's own record of the guest's metadata requests (neutron: the agent's, with the path taken). */
  metadataRequests?: () => BackendMetadataRequest[];
}

export interface NetworkSetup {
  instance: Instance;
  /** The guest reads the metadata service, so 169.254.169.254 must be reachable. */
  metadataService: boolean;
  workDir: string;
  /** Where the backend registers the undo of whatever it creates. */
  cleanup: CleanupStack;
  /** The cell's id (names of what the backend creates derive from it). */
  cellId: string;
  /** The neutron backend's networks and ports (from the case's layout). */
  topology?: TopologySpec;
  /** The nova-like metadata service a neutron metadata agent forwards to (loopback port, shared secret). */
  nova?: { port: number; secret: string };
  /** The cell's artifacts: the backend's configs, logs and state go there. */
  artifacts?: ArtifactWriter;
  log?: (line: string) => void;
}

export interface NetworkModule {
  attach(setup: NetworkSetup): Promise<NetworkAttachment>;
}

