import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { PROBE_NAMES } from '../model/probe.ts';
import { UserError } from '../util/errors.ts';
import { packageRoot } from '../util/package-root.ts';
import { loadYamlFile, YamlValidationError } from '../util/yaml-file.ts';

/** `<repo>/images`: one YAML manifest per image, recipes under `recipes/`. */
export const DEFAULT_CATALOG_DIR = join(packageRoot(), 'images');

/** The catalog in use: `$CLOUDPROBE_IMAGES_DIR` (another set of manifests, e.g. in tests), else `<repo>/images`. */
export function catalogDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.CLOUDPROBE_IMAGES_DIR || DEFAULT_CATALOG_DIR;
}

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const SHA256 = /^[0-9a-f]{64}$/;

const httpUrl = z.string().regex(/^https?:\/\/[^/\s]+\/\S*$/, 'must be an http(s) URL');

/** A pinned digest, or a checksum file beside the image (as distributions publish them). */
const ChecksumSchema = z.union([
  z.strictObject({ sha256: z.string().regex(SHA256, 'must be 64 lowercase hex digits') }),
  z.strictObject({ sums_url: httpUrl, algo: z.enum(['sha256', 'sha512']) }),
]);

/**
 * An OpenPGP v4 fingerprint: 40 hex digits, written with or without the spaces gpg prints
 * (`D2EB 4462 …`), kept uppercase without spaces so that it compares with gpg's colon output.
 */
export const FingerprintSchema = z
  .string({ error: (iss) => (iss.input === undefined ? 'required: the fingerprint of the one key that may sign the checksum file (40 hex digits)' : 'must be a string of 40 hex digits') })
  .transform((s) => s.replace(/\s+/g, '').toUpperCase())
  .pipe(z.string().regex(/^[0-9A-F]{40}$/, 'must be an OpenPGP fingerprint: 40 hex digits (spaces allowed)'));

const GpgSchema = z.strictObject({
  /** Detached signature over the checksum file (e.g. SHA256SUMS.gpg). */
  signature_url: httpUrl,
  /**
   * The one key allowed to sign the checksum file. Pinned because a keyring file is only as
   * good as where it came from: whichever source supplies the key (harness/images/signing-key.ts)
   * must hold this fingerprint, and only this key is handed to gpgv.
   */
  fingerprint: FingerprintSchema,
  /** Where the host's package puts the key (one of the places it is looked for). */
  keyring: z.string().min(1),
  /** Which package ships `keyring`: shown, with the other ways to supply the key, when it is missing. */
  keyring_hint: z.string().optional(),
});

const UrlSourceSchema = z
  .strictObject({
    kind: z.literal('url'),
    url: httpUrl,
    checksum: ChecksumSchema,
    /** Signature over the checksum file: only meaningful with `checksum.sums_url`. */
    gpg: GpgSchema.optional(),
  })
  .refine((s) => !s.gpg || 'sums_url' in s.checksum, { message: 'gpg signs a checksum file: it needs checksum.sums_url, not a pinned sha256', path: ['gpg'] });

const BuildSourceSchema = z.strictObject({
  kind: z.literal('build'),
  /** Name of a recipe file under images/recipes/ (without `.yaml`). */
  recipe: z.string().regex(NAME),
});

/**
 * An image file already on this machine, booted as it is (never modified: every VM gets an
 * overlay). What `cloudprobe certify FILE` describes, and what a user catalog may name for an
 * image of its own.
 */
const LocalSourceSchema = z.strictObject({
  kind: z.literal('local'),
  path: z.string().startsWith('/', 'must be an absolute path'),
});

const BootSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('bios-disk') }),
  z.strictObject({ type: z.literal('kernel'), cmdline: z.string() }),
]);

/**
 * Which probes do not apply to an image, each with the reason a report shows. A probe absent
 * here applies. `nic_modes` lists the NIC configurations the image can apply from
 * network_data.json (Cirros: DHCP only, so a static-NIC scenario is n/a, not a failure).
 */
const CapabilitiesSchema = z.strictObject({
  not_applicable: z.partialRecord(z.enum(PROBE_NAMES), z.string().min(1)).default({}),
  nic_modes: z.array(z.enum(['dhcp', 'static'])).min(1).default(['dhcp', 'static']),
  /** The image runs `#cloud-config` user data (Cirros only runs `#!` scripts). */
  cloud_config: z.boolean().default(true),
  /**
   * The image's own DHCP client configures every NIC whatever the datasource says (Cirros's
   * udhcpc on each interface). cloud-init without network data configures only the first NIC.
   */
  dhcp_every_nic: z.boolean().default(false),
  /**
   * Where the guest says which datasource it used: cloud-init's /run/cloud-init/result.json, or
   * Cirros's own init (`/run/cirros/datasource/dsname`: configdrive, ec2, nocloud).
   */
  datasource_source: z.enum(['cloud-init', 'cirros']).default('cloud-init'),
  /**
   * `hostname -f` gives the fqdn. Not on Cirros: its init cuts the name at the first dot and its
   * BusyBox `hostname -f` waits on DNS, so the fqdn is not checked there.
   */
  resolves_fqdn: z.boolean().default(true),
});

export const ManifestSchema = z.strictObject({
  name: z.string().regex(NAME, 'lowercase letters, digits, . _ -'),
  description: z.string().min(1),
  source: z.discriminatedUnion('kind', [UrlSourceSchema, BuildSourceSchema, LocalSourceSchema]),
  /** Disk format of the cached image; `none` for a kernel+initrd-only image. */
  format: z.enum(['qcow2', 'raw', 'none']),
  boot: BootSchema,
  default_user: z.string().min(1),
  default_password: z.string().optional(),
  min_ram_mib: z.number().int().min(64),
  /** Name the first NIC gets in the guest (eth0 with net.ifnames=0, ens2 with predictable names: it sits on PCI slot 2). */
  nic_naming: z.string().regex(/^[a-z][a-z0-9]*$/),
  network_renderer: z.enum(['eni', 'netplan', 'none']),
  capabilities: CapabilitiesSchema.default({ not_applicable: {}, nic_modes: ['dhcp', 'static'], cloud_config: true, dhcp_every_nic: false, datasource_source: 'cloud-init', resolves_fqdn: true }),
});

export type ImageManifest = z.output<typeof ManifestSchema>;
export type UrlSource = z.output<typeof UrlSourceSchema>;
export type BuildSource = z.output<typeof BuildSourceSchema>;
export type LocalSource = z.output<typeof LocalSourceSchema>;
export type GpgSpec = z.output<typeof GpgSchema>;

export interface Catalog {
  dir: string;
  manifests: Map<string, ImageManifest & { file: string }>;
}

/** Loads every `*.yaml` in `dir`; each file's name must match its `name` field. */
export async function loadCatalog(dir: string = catalogDir()): Promise<Catalog> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    throw new UserError(`image catalog ${dir}: cannot read: ${(err as Error).message}`);
  }
  const manifests = new Map<string, ImageManifest & { file: string }>();
  for (const entry of entries.filter((e) => e.endsWith('.yaml')).sort()) {
    const file = join(dir, entry);
    const m = await loadYamlFile(file, ManifestSchema);
    if (m.name !== basename(entry, '.yaml')) {
      throw new YamlValidationError([{ file, line: 1, field: 'name', message: `"${m.name}" must match the file name ${entry}` }]);
    }
    manifests.set(m.name, { ...m, file });
  }
  return { dir, manifests };
}

/** The manifest of one image, or a UserError listing the known names. */
export async function getManifest(name: string, dir: string = catalogDir()): Promise<ImageManifest & { file: string }> {
  const catalog = await loadCatalog(dir);
  const m = catalog.manifests.get(name);
  if (!m) throw new UserError(`unknown image "${name}"; known: ${[...catalog.manifests.keys()].join(', ') || '(none)'} (in ${dir})`);
  return m;
}
