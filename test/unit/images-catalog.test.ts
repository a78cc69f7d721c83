import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROBE_NAMES } from '../../harness/model/probe.ts';
import { getManifest, loadCatalog } from '../../harness/images/manifest.ts';
import { loadRecipe } from '../../harness/images/recipe.ts';
import { YamlValidationError } from '../../harness/util/yaml-file.ts';

describe('the image catalog in images/', () => {
  it('has a valid manifest for every image the harness names', async () => {
    const catalog = await loadCatalog();
    const names = [...catalog.manifests.keys()];
    for (const n of ['cirros-0.6.3', 'ubuntu-22.04', 'ubuntu-24.04', 'debian-12-genericcloud', 'debian-12-eni', 'debian-12-netplan', 'fixture-busybox']) {
      expect(names).toContain(n);
    }
  });

  it('gives every build source a recipe that loads', async () => {
    const catalog = await loadCatalog();
    for (const m of catalog.manifests.values()) {
      if (m.source.kind !== 'build') continue;
      const r = await loadRecipe(catalog.dir, m.source.recipe);
      expect(r.recipe.builder).toMatch(/^(debian|fixture-busybox)$/);
    }
  });

  it('marks what Cirros cannot do as not applicable, with reasons, using probe names only', async () => {
    const cirros = await getManifest('cirros-0.6.3');
    const na = cirros.capabilities.not_applicable;
    for (const p of ['password-login', 'timezone', 'etc-hosts', 'runcmd'] as const) expect(na[p]).toMatch(/\w{4,}/);
    expect(cirros.capabilities.nic_modes).toEqual(['dhcp']);
    expect(cirros.capabilities.cloud_config).toBe(false);
    for (const m of (await loadCatalog()).manifests.values()) {
      for (const k of Object.keys(m.capabilities.not_applicable)) expect(PROBE_NAMES).toContain(k);
    }
  });

  it('bakes the ubuntu default user into both Debian builds and names their renderers', async () => {
    const eni = await getManifest('debian-12-eni');
    const netplan = await getManifest('debian-12-netplan');
    expect([eni.default_user, netplan.default_user]).toEqual(['ubuntu', 'ubuntu']);
    expect([eni.network_renderer, netplan.network_renderer]).toEqual(['eni', 'netplan']);
    expect((await getManifest('fixture-busybox')).boot).toMatchObject({ type: 'kernel', cmdline: expect.stringContaining('console=ttyS0') });
  });
});

describe('manifest errors', () => {
  let dir: string;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('name file, line and field', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloudprobe-cat-'));
    await writeFile(
      join(dir, 'bad.yaml'),
      ['name: bad', 'description: x', 'source:', '  kind: url', '  url: https://example.invalid/x.img', '  checksum:', '    sha256: nothex', 'format: qcow2', 'boot: {type: bios-disk}', 'default_user: u', 'min_ram_mib: 64', 'nic_naming: eth0', 'network_renderer: eni', 'capabilities:', '  not_applicable:', '    no-such-probe: why', ''].join('\n'),
    );
    const err = await loadCatalog(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(YamlValidationError);
    const msg = (err as Error).message;
    expect(msg).toContain(`${join(dir, 'bad.yaml')}:`);
    expect(msg).toMatch(/bad\.yaml:7:\d+: source\.checksum/);
    expect(msg).toMatch(/bad\.yaml:1[56]:\d+: capabilities\.not_applicable/);
  });

  it('reject a GPG signature without a checksum file to sign', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloudprobe-cat-'));
    await writeFile(
      join(dir, 'sig.yaml'),
      ['name: sig', 'description: x', 'source:', '  kind: url', '  url: https://example.invalid/x.img', '  checksum:', `    sha256: ${'a'.repeat(64)}`, '  gpg:', '    signature_url: https://example.invalid/SUMS.gpg', `    fingerprint: ${'A'.repeat(40)}`, '    keyring: /k.gpg', 'format: qcow2', 'boot: {type: bios-disk}', 'default_user: u', 'min_ram_mib: 64', 'nic_naming: eth0', 'network_renderer: none', ''].join('\n'),
    );
    await expect(loadCatalog(dir)).rejects.toThrow(/sig\.yaml:9:\d+: source\.gpg: gpg signs a checksum file: it needs checksum\.sums_url/);
  });

  it('require the file name to match the name field, and list known names for an unknown one', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloudprobe-cat-'));
    await writeFile(join(dir, 'one.yaml'), 'name: two\ndescription: x\nsource: {kind: build, recipe: r}\nformat: none\nboot: {type: kernel, cmdline: ""}\ndefault_user: root\nmin_ram_mib: 64\nnic_naming: eth0\nnetwork_renderer: none\n');
    await expect(loadCatalog(dir)).rejects.toThrow(/one\.yaml:1: name: "two" must match the file name one\.yaml/);
    await expect(getManifest('nope')).rejects.toThrow(/unknown image "nope"; known: .*cirros-0\.6\.3/);
  });
});
