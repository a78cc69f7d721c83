import { createHash } from 'node:crypto';
import { parseInstance, type Instance } from '../../harness/model/instance.ts';

/** A deterministic byte source (sha256 counter mode), so random_seed is reproducible in tests. */
export function seededRandom(seed: string): (size: number) => Buffer {
  let counter = 0;
  return (size) => {
    const chunks: Buffer[] = [];
    let have = 0;
    while (have < size) {
      const c = createHash('sha256').update(`${seed}:${counter++}`).digest();
      chunks.push(c);
      have += c.length;
    }
    return Buffer.concat(chunks).subarray(0, size);
  };
}

/** An instance exercising every field: static + DHCP NICs, two keys, user/vendor data, files. */
export const FULL_INSTANCE_YAML = `
uuid: 0f3c1c2e-5b7a-4d5e-9a2b-1c2d3e4f5a6b
name: web-1
hostname: web-1.example.org
project_id: 6d2ac7c0a1b04f4e8f1f1d1b9a6b2c11
availability_zone: zone-b
launch_index: 2
meta: {role: web, dsmode: local}
public_keys:
  alice: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlice alice@example
  bob: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBobbb bob@example
admin_pass: s3cr3t-Pässword
user_data: |
  #cloud-config
  hostname: web-1
  runcmd: [[mkdir, /yunshan]]
vendor_data: {cloud-init: "#cloud-config\\ntimezone: Asia/Shanghai\\n"}
vendor_data2: {static: {answer: 42}, dynamic1: {x: [1, 2]}}
files:
  - {path: /etc/motd, content: "welcome ☃\\n"}
  - {path: /root/notes.txt, content: "two"}
nics:
  - {mac: "52:54:00:AB:CD:01", mode: static, address: 10.0.2.50/24, gateway: 10.0.2.2, dns: [10.0.2.3, 1.1.1.1], mtu: 1450}
  - {mac: "52:54:00:ab:cd:02", mode: dhcp, dns: [10.0.3.3]}
`;

export function fullInstance(): Promise<Instance> {
  return parseInstance(FULL_INSTANCE_YAML, 'full-instance.yaml', '/');
}

/** The smallest instance: one DHCP NIC, no keys, no user data. */
export function minimalInstance(name = 'tiny', uuid?: string): Promise<Instance> {
  return parseInstance(`name: ${name}\n${uuid ? `uuid: ${uuid}\n` : ''}`, `${name}.yaml`, '/');
}
