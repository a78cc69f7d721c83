/** The neutron network backend's building blocks (see each module for the why). */
export { neutronAvailability, type NeutronAvailability } from './availability.ts';
export { dnsmasqConfig, classlessStaticRoutes, dhcpOptionLines, metadataNextHop, METADATA_IP, METADATA_CIDR } from './dnsmasq-config.ts';
export { startDnsmasq, type DnsmasqProcess } from './dnsmasq.ts';
export { haproxyConfig, L3_METADATA_PORT, DHCP_METADATA_PORT, type HaproxyConfigInput } from './haproxy-config.ts';
export { startHaproxy, type HaproxyProcess } from './haproxy.ts';
export { lookupInstance, neutronDb, type NeutronDb, type LookupResult, type Via } from './instance-lookup.ts';
export { netnsExecPrefix, listNamespaces } from './ip.ts';
export { startMetadataAgent, type MetadataAgent, type AgentRequestLogEntry } from './metadata-agent.ts';
export { planTopology, type TopologySpec, type NetworkSpec, type SubnetSpec, type PortSpec, type TopologyPlan, type PlannedNetwork, type PlannedPort, type MetadataPath } from '../../model/topology.ts';
export { CellNames, runPrefix, shortId, parseNamespaceName } from './names.ts';
export { qemuNetdevArgs, qemuNetnsPrefix } from './qemu.ts';
export { openNetnsStream, type NetnsStream } from './relay.ts';
export { sweepStale, removeNamespace, type SweepResult } from './sweep.ts';
export { buildTopology, type Topology, type BuildTopologyOptions } from './topology.ts';
