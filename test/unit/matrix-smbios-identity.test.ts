import { describe, expect, it } from 'vitest';
import { ec2SystemUuid, smbiosIdentity } from '../../harness/model/datasources.ts';
import { buildQemuArgs } from '../../harness/vm/qemu-args.ts';
import type { VmSpec } from '../../harness/vm/spec.ts';

const UUID = '133C4508-1c55-4ffc-8c8c-20a6a6d4af01';

function smbiosArg(smbios: VmSpec['smbios']): string {
  const args = buildQemuArgs({
    name: 'x',
    accel: 'tcg',
    memoryMiB: 512,
    cpus: 1,
    boot: { type: 'bios-disk', disk: '/w/overlay.qcow2' },
    nics: [],
    ...(smbios ? { smbios } : {}),
    serialLog: '/w/serial.log',
    qmpSocket: '/w/qmp.sock',
  });
  return args[args.indexOf('-smbios') + 1]!;
}

describe('SMBIOS identity per datasource', () => {
  it('EC2 cells: ec2… UUID and serial (equal, as cloud-init requires for AWS), Amazon EC2, no OpenStack', () => {
    const id = smbiosIdentity('metadata-ec2', UUID);
    expect(id).toEqual({ uuid: 'ec2c4508-1c55-4ffc-8c8c-20a6a6d4af01', manufacturer: 'Amazon EC2', product: 'Amazon EC2' });
    const arg = smbiosArg(id);
    expect(arg).toBe('type=1,manufacturer=Amazon EC2,product=Amazon EC2,family=Virtual Machine,uuid=ec2c4508-1c55-4ffc-8c8c-20a6a6d4af01,serial=ec2c4508-1c55-4ffc-8c8c-20a6a6d4af01');
    expect(arg).not.toMatch(/OpenStack/);
  });

  it.each(['configdrive-iso9660', 'configdrive-vfat', 'metadata-openstack'] as const)('%s cells look like nova: the instance uuid, OpenStack Nova', (ds) => {
    const id = smbiosIdentity(ds, UUID);
    expect(id).toEqual({ uuid: UUID });
    expect(smbiosArg(id)).toBe(`type=1,manufacturer=OpenStack Foundation,product=OpenStack Nova,family=Virtual Machine,uuid=${UUID},serial=${UUID}`);
  });

  it('the EC2 UUID is still a UUID, stable per instance, and refuses non-UUIDs', () => {
    expect(ec2SystemUuid(UUID)).toMatch(/^ec2[0-9a-f]{5}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(ec2SystemUuid(UUID)).toBe(ec2SystemUuid(UUID.toLowerCase()));
    expect(ec2SystemUuid('00000000-0000-4000-8000-000000000001')).not.toBe(ec2SystemUuid('00000000-0000-4000-8000-000000000002'));
    for (const bad of ['', 'i-12345678', '133c4508-1c55-4ffc-8c8c-20a6a6d4af0', '133c4508,1c55-4ffc-8c8c-20a6a6d4af01']) expect(() => ec2SystemUuid(bad), bad).toThrow(/not a UUID/);
  });
});
