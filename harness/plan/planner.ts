import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { inspectCloudInitDeb } from '../images/cloud-init-deb.ts';
import { resolveInstance } from '../model/instance.ts';
import type { ImageManifest } from '../images/manifest.ts';
import type { Expectations } from '../model/expectations.ts';
import { UserError } from '../util/errors.ts';
import type { CaseExpect, CaseExpectOverride, DatasourceEntry, NetworkEntry, NetworkMode, Placeholder } from './case-schema.ts';
import { datasourceLabel, networkLabel, substitutePlaceholders } from './case-schema.ts';
import type { NetworkBackendKind } from '../model/networks.ts';
import type { Nic } from '../model/instance.ts';
import type { MetadataPathExpectation } from '../model/expectations.ts';
import { planLayout } from './neutron-layout.ts';
import type { LoadedCase } from './case-file.ts';
import { coordinatesOf, type CellSpec, type CloudInitPackage, type DatasourceKind, type Imdsv2Mode, type Plan, type SkippedCell } from '../model/cell.ts';
import { nicExpectations, nicsFor } from './network-modes.ts';
import { datasourceDef } from '../model/datasources.ts';

/** What the planner needs to know about an image: its manifest, and whether it is in the cache. */
export interface ImageInfo {
  manifest: ImageManifest;
  /** Why it cannot run here (not cached, not built…); undefined when it can. */
  unavailable?: string;
}
export type ImageLookup = (name: string) => ImageInfo | undefined;

/** Why a network backend cannot run here (neutron without root, dnsmasq…); absent: it can. */
export type NetworkAvailability = Partial<Record<NetworkBackendKind, string>>;

/** The values a run substitutes for a case's placeholders. */
export interface RunCredentials {
  sshPublicKey: string;
  password: string;
}

/** A random password for this run: letters and digits only, so it is safe in chpasswd lists and YAML. */
export function generatePassword(length = 20): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('');
}

function kindOf(d: DatasourceEntry): { kind: DatasourceKind; imdsv2: Imdsv2Mode } {
  return typeof d === 'string' ? { kind: d, imdsv2: 'off' } : { kind: d.kind, imdsv2: d.imdsv2 };
}

/** A layout's `expect` replaces the case's fields it names. */
function mergeExpect(base: CaseExpect, override: CaseExpectOverride | undefined): CaseExpect {
  if (!override) return base;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(override)) if (v !== undefined) out[k] = v;
  return out as CaseExpect;
}

function shortName(hostname: string): string {
  return hostname.split('.')[0] ?? hostname;
}

function expectationsFor(e: CaseExpect, datasource: DatasourceKind, nics: Nic[], extra: { metadataPath?: MetadataPathExpectation; hostname: string; dhcpEveryNic: boolean }): Expectations {
  const def = datasourceDef(datasource);
  if (e.failure) {
    // A scenario meant to fail is judged from the console: what SSH would see is not expected.
    return {
      failure: {
        modes: [...e.failure.modes],
        ...(e.failure.nics
          ? { nics: e.failure.nics.map((n, k) => ({ mac: nics[k]?.mac ?? '', state: n.state, ...(n.address !== undefined ? { address: n.address } : {}) })) }
          : {}),
        hostname: e.hostname ?? shortName(extra.hostname),
      },
    };
  }
  const out: Expectations = {
    ...(e.hostname !== undefined ? { hostname: e.hostname } : {}),
    ...(e.fqdn !== undefined ? { fqdn: e.fqdn } : {}),
    ...(e.etc_hosts ? { etcHosts: e.etc_hosts } : {}),
    ...(e.authorized_keys ? { authorizedKeys: e.authorized_keys } : {}),
    ...(e.password_login ? { passwordLogin: e.password_login } : {}),
    ...(e.timezone !== undefined ? { timezone: e.timezone } : {}),
    ...(e.runcmd_paths ? { runcmdPaths: e.runcmd_paths } : {}),
    nics: e.nics ?? nicExpectations(nics, datasource, { dhcpEveryNic: extra.dhcpEveryNic }),
    datasource: e.datasource ?? def.cloudInitName,
  };
  if (def.transport.kind === 'service') {
    const requests = e.metadata_requests ?? def.defaultMetadataRequests;
    if (requests) out.metadataRequests = [...requests];
    if (extra.metadataPath) out.metadataPath = extra.metadataPath;
  }
  if (e.clean_boot !== false) out.cleanBoot = { allowedRecoverable: e.clean_boot.allowed_recoverable, deprecations: e.clean_boot.deprecations };
  return out;
}

/** Why a cell cannot work at all, or only with n/a verdicts; undefined when it can. */
function inapplicableReason(manifest: ImageManifest, kind: DatasourceKind, imdsv2: Imdsv2Mode, network: NetworkEntry): { reason: string; always: boolean } | undefined {
  // Seen on real boots: cloud-init identifies an EC2 cell's guest as AWS (it must, or it warns and
  // reports degraded), and on AWS a refused token PUT means "IMDS disabled", never IMDSv1.
  if (kind === 'metadata-ec2' && imdsv2 === 'off' && manifest.capabilities.cloud_config) {
    return { reason: `cloud-init on ${manifest.name} sees an AWS guest and needs IMDSv2 tokens there: use { kind: metadata-ec2, imdsv2: optional }`, always: true };
  }
  // A neutron layout's static NICs are its subnets without DHCP: what then happens is the
  // scenario (its expect says so), never a reason to leave the cell out.
  if (typeof network !== 'string') return undefined;
  const wantsStatic = nicsFor(network as NetworkMode, kind).some((n) => n.mode === 'static');
  if (wantsStatic && !datasourceDef(kind).carriesNetworkData) {
    return { reason: `${kind} carries no network configuration, so a static address is never applied and SSH to it cannot work`, always: true };
  }
  if (wantsStatic && !manifest.capabilities.nic_modes.includes('static')) {
    return { reason: `${manifest.name} applies only ${manifest.capabilities.nic_modes.join('/')} from network_data.json, not a static address`, always: false };
  }
  return undefined;
}

/**
 * Expands cases into cells: images × datasources × networks minus excludes, each with its NICs,
 * its derived NIC and datasource expectations and the run's credentials substituted. Cells an
 * image cannot run (capability profile) or that are not cached here become skipped cells.
 */
export async function planCases(cases: LoadedCase[], images: ImageLookup, creds: RunCredentials): Promise<Plan> {
  const cells: CellSpec[] = [];
  const skipped: SkippedCell[] = [];
  const problems: string[] = [];

  for (const c of cases) {
    const { spec } = c;
    spec.images.forEach((img, k) => {
      if (!images(img)) problems.push(`${c.locate(['images', k])}: images[${k}]: unknown image "${img}" (no images/${img}.yaml)`);
    });
    if (problems.length > 0) continue;
    let cloudInitDeb: CloudInitPackage | undefined;
    if (spec.cloud_init_deb !== undefined) {
      const where = `${c.locate(['cloud_init_deb'])}: cloud_init_deb`;
      for (const image of spec.images) {
        const m = images(image)!.manifest;
        if (m.source.kind !== 'build') problems.push(`${where}: image ${image} is ${m.source.kind === 'url' ? 'downloaded' : 'a local file'}, not built from a recipe, so it cannot take another cloud-init (list only built images in this case)`);
        else if (!m.capabilities.cloud_config) problems.push(`${where}: image ${image} has no cloud-init to replace`);
      }
      try {
        cloudInitDeb = await inspectCloudInitDeb(resolve(dirname(c.file), spec.cloud_init_deb), where);
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        problems.push(err.message);
      }
      if (problems.length > 0) continue;
    }

    for (const image of spec.images) {
      const info = images(image)!;
      const values: Record<Placeholder, string> = { SSH_PUBLIC_KEY: creds.sshPublicKey, PASSWORD: creds.password, DEFAULT_USER: info.manifest.default_user };
      const instanceFile = substitutePlaceholders(spec.instance, values);
      const expect = substitutePlaceholders(spec.expect, values);
      for (const ds of spec.datasources) {
        const { kind, imdsv2 } = kindOf(ds);
        const dsLabel = datasourceLabel(ds);
        for (const [k, network] of spec.networks.entries()) {
          const label = networkLabel(network);
          const layout = typeof network === 'string' ? undefined : network;
          if (layout?.datasources && !layout.datasources.includes(dsLabel)) continue;
          const excluded = spec.exclude.some(
            (e) => (e.image === undefined || e.image === image) && (e.datasource === undefined || e.datasource === dsLabel) && (e.network === undefined || e.network === label),
          );
          if (excluded) continue;
          const id = `${c.name}/${image}/${dsLabel}/${label}`;
          const base = { id, caseName: c.name, image, datasource: kind, datasourceLabel: dsLabel, network: label };
          const backend: NetworkBackendKind = layout ? 'neutron' : 'user';
          const why = inapplicableReason(info.manifest, kind, imdsv2, network);
          if (why && (why.always || spec.inapplicable === 'skip')) {
            skipped.push({ ...base, reason: why.reason, kind: 'inapplicable' });
            continue;
          }
          // A derived build is made when the cell runs, whether the image's own build is here or not.
          if (info.unavailable && !cloudInitDeb) {
            skipped.push({ ...base, reason: info.unavailable, kind: 'unavailable' });
            continue;
          }
          // A fresh uuid per cell: cells never share an instance identity on the metadata service.
          const resolved = await resolveInstance({ ...instanceFile, uuid: undefined }, dirname(c.file));
          let nics: Nic[];
          let planned: ReturnType<typeof planLayout> | undefined;
          if (layout) {
            try {
              planned = planLayout(layout, resolved, (path) => c.locate(['networks', k, ...path]));
            } catch (err) {
              if (err instanceof UserError) {
                problems.push(err.message);
                break;
              }
              throw err;
            }
            nics = planned.nics;
          } else nics = nicsFor(network as NetworkMode, kind);
          const instance = { ...resolved, nics };
          const secrets = [creds.password, ...(instance.admin_pass ? [instance.admin_pass] : [])];
          const cellExpect = mergeExpect(expect, layout?.expect ? substitutePlaceholders(layout.expect, values) : undefined);
          const expectations = expectationsFor(cellExpect, kind, nics, { hostname: instance.hostname, dhcpEveryNic: info.manifest.capabilities.dhcp_every_nic, ...(planned?.metadataPath ? { metadataPath: planned.metadataPath } : {}) });
          cells.push({ ...base, ...(cloudInitDeb ? { cloudInitDeb } : {}), imdsv2, networkBackend: backend, ...(planned ? { topology: planned.topology } : {}), instance, expectations, secrets });
        }
      }
    }
  }
  if (problems.length > 0) throw new UserError(problems.join('\n'));

  const seen = new Set<string>();
  for (const id of [...cells.map((x) => x.id), ...skipped.map((x) => x.id)]) {
    if (seen.has(id)) throw new UserError(`two cells share the id ${id}`);
    seen.add(id);
  }
  cells.sort((a, b) => a.id.localeCompare(b.id));
  skipped.sort((a, b) => a.id.localeCompare(b.id));
  return { cells, skipped };
}

/**
 * Cells whose network backend cannot run here become skipped cells with the reason (e.g. neutron
 * without root): never quietly moved to another backend, which would test something else.
 */
export function skipUnavailableBackends(plan: Plan, unavailable: NetworkAvailability): Plan {
  const cells: CellSpec[] = [];
  const skipped = [...plan.skipped];
  for (const cell of plan.cells) {
    const why = unavailable[cell.networkBackend];
    if (!why) {
      cells.push(cell);
      continue;
    }
    skipped.push({ ...coordinatesOf(cell), reason: `the ${cell.networkBackend} network backend cannot run here: ${why}`, kind: 'unavailable' });
  }
  skipped.sort((a, b) => a.id.localeCompare(b.id));
  return { cells, skipped };
}
