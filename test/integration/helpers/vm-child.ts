/**
 * A harness process for the kill tests: runs one fixture cell through runCell and prints its log
 * lines (`work dir …`, `qemu pid …`) on stdout, so the test can kill it mid-boot.
 */
import { resolveInstance } from '../../../harness/model/instance.ts';
import { runCell } from '../../../harness/run/run-cell.ts';
import { generateKeyPair } from '../../../harness/ssh/keys.ts';

const key = generateKeyPair('vm-kill-child');
const artifactsRoot = process.argv[2]!;
const instance = await resolveInstance(
  { name: 'fx-kill', project_id: 'p', availability_zone: 'nova', launch_index: 0, meta: {}, public_keys: { k: key.publicKey }, vendor_data: {}, vendor_data2: {}, files: [], nics: [{ mac: '52:54:00:12:34:56', mode: 'dhcp', dns: [] }] },
  artifactsRoot,
);
await runCell(
  { id: 'kill/fixture/metadata/dhcp', caseName: 'kill', image: 'fixture-busybox', datasource: 'metadata-openstack', datasourceLabel: 'metadata-openstack', imdsv2: 'off', networkBackend: 'user', network: 'dhcp', instance, expectations: {}, secrets: [] },
  { artifactsRoot, keep: 'never', sshKey: key, log: (l) => process.stdout.write(`${l}\n`) },
);
process.stdout.write('finished\n');
