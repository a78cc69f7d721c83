import { describe, expect, it } from 'vitest';
import { networkData } from '../../harness/datasource/nova-metadata.ts';
import { parseInstance } from '../../harness/model/instance.ts';
import { YamlValidationError } from '../../harness/util/yaml-file.ts';

/** An instance file with one NIC; `nic` is its YAML body lines after the MAC. */
function instanceYaml(nic: string[]): string {
  return ['name: web', 'nics:', '  - mac: 52:54:00:12:34:56', ...nic.map((l) => `    ${l}`), ''].join('\n');
}

async function messageOf(text: string): Promise<string> {
  try {
    await parseInstance(text, 'instance.yaml', '/tmp');
  } catch (err) {
    expect(err).toBeInstanceOf(YamlValidationError);
    return (err as Error).message;
  }
  throw new Error('expected a validation error');
}

describe('instance file: IPv4 addresses are checked, not just shaped', () => {
  it('rejects an address/prefix out of range, naming file, line, column and field', async () => {
    const msg = await messageOf(instanceYaml(['mode: static', 'address: 999.999.999.999/33']));
    expect(msg).toBe('instance.yaml:5:14: nics[0].address: "999.999.999.999/33" is not an IPv4 address in CIDR form: want four numbers 0-255 and a prefix 0-32, e.g. 10.0.2.50/24');
  });

  it('rejects a gateway with an octet over 255', async () => {
    const msg = await messageOf(instanceYaml(['mode: static', 'address: 10.0.2.50/24', 'gateway: 999.0.0.1']));
    expect(msg).toBe('instance.yaml:6:14: nics[0].gateway: "999.0.0.1" is not an IPv4 address: want four numbers 0-255, e.g. 10.0.2.2');
  });

  it('rejects a DNS server 256.256.256.256', async () => {
    const msg = await messageOf(instanceYaml(['dns: [10.0.2.3, 256.256.256.256]']));
    expect(msg).toBe('instance.yaml:4:21: nics[0].dns[1]: "256.256.256.256" is not an IPv4 address: want four numbers 0-255, e.g. 10.0.2.2');
  });

  it('accepts good addresses and renders their netmask into network_data.json', async () => {
    const instance = await parseInstance(instanceYaml(['mode: static', 'address: 10.0.2.50/23', 'gateway: 10.0.2.2', 'dns: [10.0.2.3]']), 'instance.yaml', '/tmp');
    expect(networkData(instance).networks[0]).toMatchObject({ ip_address: '10.0.2.50', netmask: '255.255.254.0' });
  });
});
