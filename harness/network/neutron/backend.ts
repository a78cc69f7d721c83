import { readdir, stat } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { planTopology, type PlannedPort, type TopologyPlan } from '../../model/topology.ts';
import type { NetworkAttachment, NetworkModule, NetworkSetup } from '../module.ts';
import { nsExec } from './ip.ts';
import { shortId, tapName } from './names.ts';
import { buildTopology, type Topology } from './topology.ts';

/**
 * The `neutron` network backend for one cell: builds the cell's topology (topology.ts) from the
 * case's layout, puts QEMU in the segment namespace with one tap per port, and gives the host a
 * way to the guest's sshd that crosses no network link: a loopback listener whose every
 * connection is relayed by socat started inside the namespace that has an address on NIC 1's
 * subnet (qdhcp, qrouter or a probe port), the way an operator runs `ip netns exec qdhcp-… ssh`.
 *
 * Teardown is registered on the cell's stack as each piece comes up, so it runs in reverse:
 * the SSH relay closes, the namespaces' state is recorded, the topology goes (daemons stopped,
 * namespaces deleted), and its configs and logs are copied into the artifacts.
 */

const ARTIFACT_DIR = 'network';

function vmPorts(plan: TopologyPlan): PlannedPort[] {
  return plan.networks.flatMap((n) => n.ports);
}

/** A loopback TCP listener; each connection becomes a relay to `address:22` inside the network's namespace. */
async function sshRelay(topology: Topology, networkId: string, address: string, log: (line: string) => void): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  // While the guest boots every attempt fails alike: say so when what the relay sees changes.
  let lastFailure = '';
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    topology.openStream(networkId, address, 22).then(
      (stream) => {
        if (socket.destroyed) return void stream.destroy();
        stream.on('error', () => socket.destroy());
        stream.once('close', () => socket.destroy());
        socket.once('close', () => stream.destroy());
        socket.pipe(stream).pipe(socket);
      },
      // Nothing listens yet (the guest is still booting): the client sees a closed connection and retries.
      (err: Error) => {
        const said = err.message.replace(/^.*?: socat /, 'socat ');
        if (said !== lastFailure) log(`ssh relay: ${err.message}`);
        lastFailure = said;
        socket.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** `ip addr`, `ip route`, iptables and listening sockets of every namespace: what an operator looks at first. */
async function namespaceState(topology: Topology): Promise<string> {
  const parts: string[] = [];
  const tryRun = async (ns: string, argv: string[]) => {
    try {
      return (await nsExec(ns, argv)).trimEnd();
    } catch (err) {
      return `(${(err as Error).message})`;
    }
  };
  for (const ns of topology.namespaces()) {
    parts.push(`### ${ns}`);
    parts.push(`$ ip addr\n${await tryRun(ns, ['ip', '-o', 'addr', 'show'])}`);
    parts.push(`$ ip route\n${await tryRun(ns, ['ip', 'route', 'show'])}`);
    if (ns.includes('-qrouter-')) parts.push(`$ iptables-save\n${await tryRun(ns, ['iptables-save'])}`);
    if (!ns.endsWith('-seg')) parts.push(`$ ss -ltnu\n${await tryRun(ns, ['ss', '-ltnuH'])}`);
    else parts.push(`$ bridge link\n${await tryRun(ns, ['bridge', 'link', 'show'])}`);
    parts.push('');
  }
  return `${parts.join('\n')}\n`;
}

async function copyDir(setup: NetworkSetup, dir: string): Promise<void> {
  const artifacts = setup.artifacts;
  if (!artifacts) return;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile() || st.size > 8 * 1024 * 1024) continue;
    await artifacts.copy(`network:${name}`, `${ARTIFACT_DIR}/${name}`, path);
  }
}

export const neutronNetwork: NetworkModule = {
  async attach(setup): Promise<NetworkAttachment> {
    const { instance, cleanup } = setup;
    const log = setup.log ?? (() => {});
    if (!setup.topology) throw new Error(`cell ${setup.cellId}: the neutron backend needs a network layout`);
    if (!setup.nova) throw new Error(`cell ${setup.cellId}: the neutron backend needs the metadata service its agent forwards to`);
    // Checked (and located in the case file) by the planner; planned again here, deterministically.
    const plan = planTopology(setup.topology);
    const ports = vmPorts(plan).filter((p) => p.deviceId === instance.uuid);
    const byMac = new Map(ports.map((p) => [p.mac, p]));
    const nicPorts = instance.nics.map((nic, i) => {
      const port = byMac.get(nic.mac.toLowerCase());
      if (!port) throw new Error(`cell ${setup.cellId}: NIC ${i} (${nic.mac}) has no port in the topology`);
      return port;
    });
    const dir = join(setup.workDir, 'neutron');
    // Registered first, so it runs last: after the topology is gone and its daemons have flushed their logs.
    cleanup.defer('copy the neutron configs and logs', () => copyDir(setup, dir));
    await setup.artifacts?.write('network:topology', `${ARTIFACT_DIR}/topology.json`, `${JSON.stringify(plan, null, 2)}\n`);
    for (const note of plan.notes) log(`neutron: ${note}`);

    const topology = await buildTopology({
      // Namespace names carry a short id of the instance: unique per cell, recognisable per run.
      cell: shortId(instance.uuid, 8),
      spec: setup.topology,
      workDir: dir,
      nova: { host: '127.0.0.1', port: setup.nova.port, secret: setup.nova.secret },
      parent: cleanup,
    });
    log(`neutron: namespaces ${topology.namespaces().join(', ')}`);
    cleanup.defer('record the namespaces’ state', async () => {
      await setup.artifacts?.write('network:state', `${ARTIFACT_DIR}/namespaces.txt`, await namespaceState(topology));
    });

    const first = nicPorts[0]!;
    const relay = await sshRelay(topology, first.networkId, first.ip, log);
    cleanup.defer('close the ssh relay', () => relay.close());
    log(`neutron: ssh to ${first.ip} through ${topology.relayNamespace(first.networkId)}, on 127.0.0.1:${relay.port}`);

    const guestIps = new Set(nicPorts.map((p) => p.ip));
    return {
      nics: instance.nics.map((nic, i) => ({ mac: nic.mac.toLowerCase(), tap: tapName(nicPorts[i]!.id) })),
      guestAddress: first.ip,
      netns: topology.segmentNamespace,
      sshEndpoint: { host: '127.0.0.1', port: relay.port },
      // The agent is the metadata path here: nothing to connect.
      connectMetadata: () => {},
      metadataRequests: () =>
        topology
          .requests()
          .filter((r) => r.instanceId === instance.uuid || (r.remoteIp !== undefined && guestIps.has(r.remoteIp)))
          .map((r) => ({ method: r.method, path: r.path, status: r.status, ...(r.via ? { via: r.via } : {}), ...(r.namespace ? { namespace: r.namespace } : {}) })),
    };
  },
};
