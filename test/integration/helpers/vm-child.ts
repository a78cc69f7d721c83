/**
 * A harness process for the kill tests: runs one fixture cell through runCell and prints its log
 * lines (`work dir …`, `qemu pid …`) on stdout, so the test can kill it mid-boot.
 */
import { resolveInstance } from '../../../harness/model/instance.ts';
import { installInterruptHandler, interruptSignal } from '../../../harness/run/interrupt.ts';
import { runCell } from '../../../harness/run/run-cell.ts';
import { generateKeyPair } from '../../../harness/ssh/keys.ts';

const key = generateKeyPair('vm-kill-child');
const artifactsRoot = process.argv[2]!;
const instance = await resolveInstance(
  { name: 'fx-kill', project_id: 'p', availability_zone: 'nova', launch_index: 0, meta: {}, public_keys: { k: key.publicKey }, vendor_data: {}, vendor_data2: {}, files: [], nics: [{ mac: '52:54:00:12:34:56', mode: 'dhcp', dns: [] }] },
  artifactsRoot,
);
// As an entry point does: the one interrupt handler; the cell unwinds on it, then we die by the signal.
const interrupt = installInterruptHandler();
interruptSignal(); // this script stops cleanly on it: take charge of interrupts
await runCell(
  { id: 'kill/fixture/metadata/dhcp', caseName: 'kill', image: 'fixture-busybox', datasource: 'metadata-openstack', datasourceLabel: 'metadata-openstack', imdsv2: 'off', networkBackend: 'user', network: 'dhcp', instance, expectations: {}, secrets: [] },
  { artifactsRoot, keep: 'never', sshKey: key, signal: interrupt.signal, log: (l) => process.stdout.write(`${l}\n`) },
);
const cause = interrupt.cause();
interrupt.dispose();
if (cause === 'SIGINT' || cause === 'SIGTERM') process.kill(process.pid, cause);
else process.stdout.write('finished\n');
