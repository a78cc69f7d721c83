import { describe, expect, it } from 'vitest';
import { addressOf, contains, formatCidr, isValidAddress, isValidCidr, netmaskOf, networkOf, offset, parseCidr, prefixOfNetmask } from '../../harness/util/ipv4.ts';

describe('util/ipv4', () => {
  it('accepts dotted quads only, octets 0-255', () => {
    for (const ok of ['0.0.0.0', '10.0.2.15', '255.255.255.255', '169.254.169.254']) expect(isValidAddress(ok), ok).toBe(true);
    // inet_aton would read the short, hex and octal forms as other addresses: refused.
    for (const bad of ['999.0.0.1', '256.256.256.256', '10.2.15', '0xa.0.2.15', '010.0.2.15', '1.2.3.4 ', '', '1.2.3.4/24']) expect(isValidAddress(bad), bad).toBe(false);
  });

  it('accepts CIDRs with a prefix 0-32', () => {
    for (const ok of ['10.0.2.50/24', '0.0.0.0/0', '10.0.2.1/32']) expect(isValidCidr(ok), ok).toBe(true);
    for (const bad of ['999.999.999.999/33', '10.0.2.1/33', '10.0.2.1', '10.0.2.1/', '10.0.2.1/024', '10.0.2.1/-1', '256.0.0.1/24']) expect(isValidCidr(bad), bad).toBe(false);
  });

  it('parses and formats CIDRs, and takes the address apart', () => {
    expect(parseCidr('10.0.2.50/24')).toEqual({ address: '10.0.2.50', prefix: 24 });
    expect(formatCidr({ address: '10.0.2.50', prefix: 24 })).toBe('10.0.2.50/24');
    expect(addressOf('169.254.169.15/24')).toBe('169.254.169.15');
    expect(() => parseCidr('999.999.999.999/33')).toThrow('not an IPv4 CIDR: 999.999.999.999/33');
  });

  it('converts prefix lengths and netmasks both ways', () => {
    expect(netmaskOf(24)).toBe('255.255.255.0');
    expect(netmaskOf(23)).toBe('255.255.254.0');
    expect(netmaskOf(0)).toBe('0.0.0.0');
    expect(netmaskOf(32)).toBe('255.255.255.255');
    expect(() => netmaskOf(33)).toThrow(/prefix length: 33/);
    expect(prefixOfNetmask('255.255.255.0')).toBe(24);
    expect(prefixOfNetmask('255.255.254.0')).toBe(23);
    expect(prefixOfNetmask('0.0.0.0')).toBe(0);
    expect(prefixOfNetmask('255.0.255.0')).toBeUndefined();
    expect(prefixOfNetmask('24')).toBeUndefined();
  });

  it('finds networks, membership and offsets', () => {
    expect(networkOf('10.0.2.50/24')).toBe('10.0.2.0/24');
    expect(networkOf('10.0.3.50/23')).toBe('10.0.2.0/23');
    expect(networkOf('10.0.2.50/0')).toBe('0.0.0.0/0');
    expect(contains('10.0.2.0/24', '10.0.2.255')).toBe(true);
    expect(contains('10.0.2.0/24', '10.0.3.0')).toBe(false);
    expect(contains('10.0.2.77/24', '10.0.2.1')).toBe(true);
    expect(() => contains('10.0.2.0/24', '10.0.2.256')).toThrow('not an IPv4 address: 10.0.2.256');
    expect(offset('10.0.2.0/24', 15)).toBe('10.0.2.15');
    expect(offset('10.0.2.99/24', 2)).toBe('10.0.2.2');
    expect(offset('10.0.0.0/16', 300)).toBe('10.0.1.44');
    expect(() => offset('255.255.255.0/24', 256)).toThrow(/outside IPv4/);
  });
});
