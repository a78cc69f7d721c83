/**
 * A harness process for the neutron kill test: builds a topology (dnsmasq, both haproxys, agent),
 * prints what it built as one JSON line, then waits to be killed.
 */
import { buildTopology } from '../../../harness/network/neutron/topology.ts';

const workDir = process.argv[2]!;
const topo = await buildTopology({
  cell: 'killed',
  workDir,
  nova: { host: '127.0.0.1', port: 9, secret: 'unused' },
  sweep: false,
  spec: {
    networks: [{ name: 'private', router: 'r1', metadata: 'both', subnet: { cidr: '172.16.11.0/24' } }],
    ports: [{ network: 'private', mac: 'fa:16:3e:00:00:11', device_id: '11111111-0000-4000-8000-000000000011', tenant_id: 'p', nic: 'veth' }],
  },
});
process.stdout.write(`${JSON.stringify({ namespaces: topo.namespaces(), pids: topo.processes().map((p) => p.pid), socketDir: topo.names.socketDir() })}\n`);
setInterval(() => undefined, 60_000);
