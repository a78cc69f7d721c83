import { describe, expect, it } from 'vitest';
import { probeBootSector, PROBE_MARKER } from '../../harness/host/kvm-probe.ts';

describe('accelerator probe boot sector', () => {
  it('is one BIOS-bootable sector carrying the marker', () => {
    const sector = probeBootSector();
    expect(sector.length).toBe(512);
    expect(sector[510]).toBe(0x55);
    expect(sector[511]).toBe(0xaa);
    expect(sector.includes(Buffer.from(PROBE_MARKER))).toBe(true);
  });
});
