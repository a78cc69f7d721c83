import { describe, expect, it } from 'vitest';
import { parseTtl, TokenStore } from '../../harness/metadata/imds-tokens.ts';
import { ec2AmiId, ec2InstanceId } from '../../harness/datasource/nova-metadata.ts';
import { lookup, normalizeRequestPath, normpath } from '../../harness/metadata/nova-routes.ts';
import { signInstanceId, verifyInstanceSignature } from '../../harness/metadata/signing.ts';
import { fullInstance } from '../helpers/instances.ts';

describe('path normalisation (posixpath.normpath + decoding)', () => {
  it.each([
    ['/', '/'],
    ['//a//b/', '/a/b'],
    ['/a/./b/../c', '/a/c'],
    ['/../../x', '/x'],
    ['/..', '/'],
  ])('%s → %s', (input, want) => expect(normpath(input)).toBe(want));

  it('decodes once, strips query and absolute form, refuses bad encodings', () => {
    expect(normalizeRequestPath('/openstack/latest/meta%5Fdata.json?x=%zz')).toEqual({ status: 200, api: 'openstack', path: '/openstack/latest/meta_data.json' });
    expect(normalizeRequestPath('http://h:80/latest/meta-data/')).toEqual({ status: 200, api: 'ec2', path: '/latest/meta-data' });
    expect(normalizeRequestPath('/%2e%2e/%2e%2e/')).toEqual({ status: 200, api: 'root', path: '/' });
    for (const bad of ['/%zz', '/a%00b', '/%c0%ae', '/%0a', '/%7f', 'relative', '/%ef%bf%bd']) expect(normalizeRequestPath(bad).status, bad).toBe(400);
  });
});

describe('lookup', () => {
  it('renders dicts, lists and leaves as nova ec2_md_print does', async () => {
    const i = await fullInstance();
    const body = (p: string) => {
      const r = lookup(p, { instance: i, imdsv2: false });
      return r?.kind === 'data' ? r.body.toString() : r?.kind;
    };
    expect(body('/latest/meta-data/block-device-mapping')).toBe('ami\nroot');
    expect(body('/latest/meta-data/security-groups')).toBe('default');
    expect(body('/latest/meta-data/ami-launch-index')).toBe('2');
    expect(body('/latest/meta-data/public-ipv4')).toBe('');
    expect(body('/openstack/latest/password')).toBe('password');
    expect(body('/latest/api/token')).toBeUndefined();
    expect(lookup('/latest/api/token', { instance: i, imdsv2: true })?.kind).toBe('token');
  });

  it('serves the AWS instance identity document only with the AWS extensions (IMDSv2) on', async () => {
    const i = await fullInstance();
    const body = (p: string, imdsv2: boolean) => {
      const r = lookup(p, { instance: i, imdsv2, guestIp: '169.254.169.15' });
      return r?.kind === 'data' ? r.body.toString() : r?.kind;
    };
    // nova: no dynamic/ at all.
    expect(body('/latest', false)).toBe('meta-data/\nuser-data');
    expect(body('/2009-04-04/dynamic/instance-identity/document', false)).toBeUndefined();
    expect(body('/latest', true)).toBe('dynamic/\nmeta-data/\nuser-data');
    expect(body('/2009-04-04/dynamic', true)).toBe('instance-identity/');
    expect(body('/2009-04-04/dynamic/instance-identity', true)).toBe('document');
    const doc = JSON.parse(body('/2009-04-04/dynamic/instance-identity/document', true) as string) as Record<string, unknown>;
    expect(doc).toMatchObject({ instanceId: ec2InstanceId(i), imageId: ec2AmiId(i), availabilityZone: 'zone-b', region: 'RegionOne', privateIp: '169.254.169.15', instanceType: 'm1.small' });
    expect(doc.accountId).toMatch(/^\d{12}$/);
    // Still nova's versions only: extended AWS versions 404 (cloud-init then falls back to 2009-04-04).
    expect(body('/2021-03-23/meta-data/instance-id', true)).toBeUndefined();
  });

  it('hides future-dated OpenStack versions', async () => {
    const r = lookup('/openstack', { instance: await fullInstance(), imdsv2: false, today: '2016-12-31' });
    expect(r?.kind === 'data' && r.body.toString()).toBe('2012-08-10\n2013-04-04\n2013-10-17\n2015-10-15\n2016-06-30\n2016-10-06\nlatest');
  });
});

describe('IMDSv2 tokens', () => {
  it('accepts TTLs 1–21600 only', () => {
    expect([parseTtl('1'), parseTtl('21600'), parseTtl(' 60 ')]).toEqual([1, 21600, 60]);
    for (const bad of [undefined, '', '0', '21601', '-1', '1.0', '1e3', 'abc', ['1', '2']]) expect(parseTtl(bad), String(bad)).toBeUndefined();
  });

  it('expires tokens after their TTL', () => {
    let now = 1_000_000;
    const store = new TokenStore(() => now);
    const t = store.issue(10);
    expect(store.valid(t)).toBe(true);
    now += 9_999;
    expect(store.valid(t)).toBe(true);
    now += 1;
    expect(store.valid(t)).toBe(false);
    expect(store.valid(undefined)).toBe(false);
  });
});

describe('signatures', () => {
  it('is hex HMAC-SHA256 of the instance id', () => {
    // RFC 4231-style known answer computed independently: HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog").
    expect(signInstanceId('key', 'The quick brown fox jumps over the lazy dog')).toBe('f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8');
    expect(verifyInstanceSignature('s', 'id', signInstanceId('s', 'id'))).toBe(true);
    expect(verifyInstanceSignature('s', 'id', signInstanceId('t', 'id'))).toBe(false);
    expect(verifyInstanceSignature('s', 'id', 'short')).toBe(false);
  });
});
