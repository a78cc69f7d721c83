import { createHash, randomBytes } from 'node:crypto';
import type { Instance, Nic } from '../model/instance.ts';
import { addressOf, netmaskOf, parseCidr } from '../util/ipv4.ts';
import { pythonJsonDumps } from './python-json.ts';

/**
 * What nova's `InstanceMetadata` (nova/api/metadata/base.py) knows about one instance, in the
 * shapes nova serves it. The one source of truth for both the config drive and the metadata
 * service: meta_data.json, network_data.json, vendor data, the EC2 tree and injected files.
 */

/** EC2 API versions nova serves (plus `latest`, which means the last one). */
export const EC2_VERSIONS = ['1.0', '2007-01-19', '2007-03-01', '2007-08-29', '2007-10-10', '2007-12-15', '2008-02-01', '2008-09-01', '2009-04-04'] as const;
/** The only EC2 version nova writes to a config drive (the rest are in `config_drive_skip_versions`). */
export const CONFIG_DRIVE_EC2_VERSIONS = ['2009-04-04', 'latest'] as const;

export const OS_FOLSOM = '2012-08-10';
export const OS_GRIZZLY = '2013-04-04'; // random_seed, password
export const OS_HAVANA = '2013-10-17'; // vendor_data.json
export const OS_LIBERTY = '2015-10-15'; // network_data.json, project_id
export const OS_NEWTON_ONE = '2016-06-30'; // devices
export const OS_NEWTON_TWO = '2016-10-06'; // vendor_data2.json
export const OS_OCATA = '2017-02-22';
export const OS_ROCKY = '2018-08-27';
export const OS_VICTORIA = '2020-10-14'; // dedicated_cpus
export const OS_EPOXY = '2025-04-04';
export const OPENSTACK_VERSIONS = [OS_FOLSOM, OS_GRIZZLY, OS_HAVANA, OS_LIBERTY, OS_NEWTON_ONE, OS_NEWTON_TWO, OS_OCATA, OS_ROCKY, OS_VICTORIA, OS_EPOXY] as const;

export const MD_JSON = 'meta_data.json';
export const UD_NAME = 'user_data';
export const PASSWORD_NAME = 'password';
export const VD_JSON = 'vendor_data.json';
export const NW_JSON = 'network_data.json';
export const VD2_JSON = 'vendor_data2.json';

export type Random = (size: number) => Buffer;

export interface NovaMetadataOptions {
  /** Source of random_seed bytes (tests pass a seeded one to compare bytes). */
  random?: Random;
  /** Config drive only: nova passes admin_pass and injected files only to the drive. */
  configDrive?: boolean;
  /** EC2 local-ipv4: the guest's address as the metadata service sees it (X-Forwarded-For). */
  guestIp?: string;
}

/** `latest` → the newest OpenStack version; unknown versions → undefined. */
export function resolveOpenstackVersion(v: string): string | undefined {
  if (v === 'latest') return OPENSTACK_VERSIONS[OPENSTACK_VERSIONS.length - 1];
  return (OPENSTACK_VERSIONS as readonly string[]).includes(v) ? v : undefined;
}

export function resolveEc2Version(v: string): string | undefined {
  if (v === 'latest') return EC2_VERSIONS[EC2_VERSIONS.length - 1];
  return (EC2_VERSIONS as readonly string[]).includes(v) ? v : undefined;
}

function atLeast(versions: readonly string[], required: string, requested: string): boolean {
  return versions.indexOf(requested) >= versions.indexOf(required);
}
const osAtLeast = (required: string, requested: string) => atLeast(OPENSTACK_VERSIONS, required, requested);
const ec2AtLeast = (required: string, requested: string) => atLeast(EC2_VERSIONS, required, requested);

/** Stable pseudo-ids derived from the instance uuid, so every build/serve of one instance agrees. */
function derivedHex(instance: Instance, what: string, length: number): string {
  return createHash('sha256').update(`${instance.uuid}:${what}`).digest('hex').slice(0, length);
}
function derivedUuid(instance: Instance, what: string): string {
  const h = derivedHex(instance, what, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** nova's EC2 ids (`i-%08x`, `ami-%08x`, `r-xxxxxxxx`) stand for database ids; ours are derived. */
export function ec2InstanceId(instance: Instance): string {
  return `i-${derivedHex(instance, 'ec2-instance', 8)}`;
}
export function ec2AmiId(instance: Instance): string {
  return `ami-${derivedHex(instance, 'ec2-image', 8)}`;
}
function ec2ReservationId(instance: Instance): string {
  return `r-${BigInt(`0x${derivedHex(instance, 'reservation', 12)}`).toString(36).padStart(8, '0').slice(-8)}`;
}

export interface ContentFile {
  /** Guest path the file is meant for (`files[].path`). */
  path: string;
  /** `NNNN`, the name under openstack/content/. */
  key: string;
  content: Buffer;
}

/** Injected files as nova numbers them: 0000, 0001, … in the order given. */
export function contentFiles(instance: Instance): ContentFile[] {
  return instance.files.map((f, i) => ({ path: f.path, key: String(i).padStart(4, '0'), content: Buffer.from(f.content, 'utf8') }));
}

/** `user_data` bytes, or undefined when the instance has none (then nova serves no user_data file). */
export function userDataBytes(instance: Instance): Buffer | undefined {
  return instance.user_data === undefined ? undefined : Buffer.from(instance.user_data, 'utf8');
}

/** The object behind `openstack/<version>/meta_data.json` (version already resolved). */
export function metaData(instance: Instance, version: string, opts: NovaMetadataOptions = {}): Record<string, unknown> {
  const random = opts.random ?? randomBytes;
  const md: Record<string, unknown> = { uuid: instance.uuid };
  if (Object.keys(instance.meta).length > 0) md.meta = instance.meta;
  if (opts.configDrive) {
    const files = contentFiles(instance);
    if (files.length > 0) md.files = files.map((f) => ({ path: f.path, content_path: `/content/${f.key}` }));
    // nova's "extra_md": the admin password goes to the drive only, never to the metadata service.
    if (instance.admin_pass !== undefined) md.admin_pass = instance.admin_pass;
  }
  const keyNames = Object.keys(instance.public_keys);
  if (keyNames.length > 0) {
    md.public_keys = { ...instance.public_keys };
    md.keys = keyNames.map((name) => ({ name, type: 'ssh', data: instance.public_keys[name] }));
  }
  md.hostname = instance.hostname;
  md.name = instance.name;
  md.launch_index = instance.launch_index;
  md.availability_zone = instance.availability_zone;
  if (osAtLeast(OS_GRIZZLY, version)) md.random_seed = random(512).toString('base64');
  if (osAtLeast(OS_LIBERTY, version)) md.project_id = instance.project_id;
  if (osAtLeast(OS_NEWTON_ONE, version)) md.devices = [];
  if (osAtLeast(OS_VICTORIA, version)) md.dedicated_cpus = [];
  return md;
}

interface NetworkLink {
  id: string;
  vif_id: string;
  type: string;
  mtu: number | null;
  ethernet_mac_address: string;
}
type NetworkEntry = Record<string, unknown>;
interface NetworkRoute {
  network: string;
  netmask: string;
  gateway: string;
}
interface DnsService {
  type: 'dns';
  address: string;
}
export interface NetworkData {
  links: NetworkLink[];
  networks: NetworkEntry[];
  services: DnsService[];
}

/**
 * `network_data.json` as nova's netutils.get_network_metadata renders neutron ports
 * (docs/facts.md §1): one link per port (`tap<port id[:11]>`; its mtu is null when the subnet has
 * DHCP — the guest learns it from DHCP — else the network's MTU), one network per subnet:
 * `ipv4_dhcp` when the subnet has DHCP, else `ipv4` with the fixed IP, netmask, the default
 * route via the gateway followed by the subnet's host routes, and its DNS servers; the top-level
 * services list every subnet's DNS servers once.
 */
export function networkData(instance: Instance): NetworkData {
  const links: NetworkLink[] = [];
  const networks: NetworkEntry[] = [];
  const services: DnsService[] = [];
  instance.nics.forEach((nic: Nic, i) => {
    const vifId = nic.port_id ?? derivedUuid(instance, `port${i}`);
    const linkId = `tap${vifId.slice(0, 11)}`; // neutron's device name, as nova exposes it
    const dhcp = nic.mode === 'dhcp';
    links.push({ id: linkId, vif_id: vifId, type: 'ovs', mtu: dhcp ? null : (nic.mtu ?? null), ethernet_mac_address: nic.mac });
    const dns: DnsService[] = nic.dns.map((address) => ({ type: 'dns', address }));
    const base = { id: `network${i}`, link: linkId, network_id: nic.network_id ?? derivedUuid(instance, `network${i}`) };
    if (dhcp) {
      networks.push({ id: base.id, type: 'ipv4_dhcp', link: base.link, network_id: base.network_id });
    } else {
      // The schema makes a static NIC carry a valid address; one built in code without it is a bug.
      const { address, prefix } = parseCidr(nic.address ?? '');
      const routes: NetworkRoute[] = nic.gateway ? [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: nic.gateway }] : [];
      for (const r of nic.routes ?? []) {
        const dest = parseCidr(r.destination);
        routes.push({ network: dest.address, netmask: netmaskOf(dest.prefix), gateway: r.nexthop });
      }
      networks.push({
        id: base.id,
        type: 'ipv4',
        link: base.link,
        ip_address: address,
        netmask: netmaskOf(prefix),
        routes,
        network_id: base.network_id,
        services: dns,
      });
    }
    for (const d of dns) if (!services.some((s) => s.address === d.address)) services.push(d);
  });
  return { links, networks, services };
}

/**
 * The EC2 meta-data tree as nova builds it for one EC2 version (resolved). Dicts are directories;
 * a `_name` key is how nova renders `public-keys/` entries as `0=keyname`.
 */
export type Ec2Tree = { [key: string]: Ec2Node };
export type Ec2Node = string | number | string[] | Ec2Tree;

export function ec2MetaData(instance: Instance, version: string, opts: NovaMetadataOptions = {}): Ec2Tree {
  const localIpv4 = opts.guestIp ?? staticAddress(instance);
  const md: Ec2Tree = {
    'ami-id': ec2AmiId(instance),
    'ami-launch-index': instance.launch_index,
    'ami-manifest-path': 'FIXME',
    'instance-id': ec2InstanceId(instance),
    hostname: instance.hostname,
  };
  if (localIpv4 !== undefined) md['local-ipv4'] = localIpv4;
  md['reservation-id'] = ec2ReservationId(instance);
  md['security-groups'] = ['default'];
  const keyNames = Object.keys(instance.public_keys);
  if (keyNames.length > 0) {
    const keys: Ec2Tree = {};
    keyNames.forEach((name, i) => {
      keys[String(i)] = { _name: `${i}=${name}`, 'openssh-key': instance.public_keys[name] ?? '' };
    });
    md['public-keys'] = keys;
  }
  if (ec2AtLeast('2007-01-19', version)) {
    md['local-hostname'] = instance.hostname;
    md['public-hostname'] = instance.hostname;
    md['public-ipv4'] = '';
  }
  if (ec2AtLeast('2007-08-29', version)) md['instance-type'] = instance.flavor ?? 'm1.small';
  if (ec2AtLeast('2007-12-15', version)) md['block-device-mapping'] = { ami: 'vda', root: '/dev/vda' };
  if (ec2AtLeast('2008-02-01', version)) md.placement = { 'availability-zone': instance.availability_zone };
  if (ec2AtLeast('2008-09-01', version)) md['instance-action'] = 'none';
  return md;
}

function staticAddress(instance: Instance): string | undefined {
  const nic = instance.nics[0];
  return nic?.mode === 'static' && nic.address !== undefined ? addressOf(nic.address) : undefined;
}

/** Files of `openstack/<version>/` in nova's listing order (the metadata service adds `password`). */
export function openstackVersionFiles(instance: Instance, version: string, withPassword: boolean): string[] {
  const files: string[] = [MD_JSON];
  if (instance.user_data !== undefined) files.push(UD_NAME);
  if (withPassword && osAtLeast(OS_GRIZZLY, version)) files.push(PASSWORD_NAME);
  if (osAtLeast(OS_HAVANA, version)) files.push(VD_JSON);
  if (osAtLeast(OS_LIBERTY, version)) files.push(NW_JSON);
  if (osAtLeast(OS_NEWTON_TWO, version)) files.push(VD2_JSON);
  return files;
}

/**
 * One file under `openstack/<version>/` (version resolved), as bytes, or undefined when nova has
 * no such file for that version. `password` is not here: it is state of the metadata service.
 */
export function openstackFile(instance: Instance, version: string, name: string, opts: NovaMetadataOptions = {}): Buffer | undefined {
  if (!openstackVersionFiles(instance, version, false).includes(name)) return undefined;
  switch (name) {
    case MD_JSON:
      return Buffer.from(pythonJsonDumps(metaData(instance, version, opts)));
    case UD_NAME:
      return userDataBytes(instance);
    case VD_JSON:
      return Buffer.from(pythonJsonDumps(instance.vendor_data));
    case NW_JSON:
      return Buffer.from(pythonJsonDumps(networkData(instance)));
    case VD2_JSON:
      return Buffer.from(pythonJsonDumps(instance.vendor_data2));
    default:
      return undefined;
  }
}

/**
 * The whole config drive tree, relative paths → bytes, exactly what nova's
 * `metadata_for_config_drive` yields: every OpenStack version plus `latest`, EC2 2009-04-04 and
 * `latest`, and `openstack/content/NNNN`.
 */
export function configDriveFiles(instance: Instance, opts: Omit<NovaMetadataOptions, 'configDrive' | 'guestIp'> = {}): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const o: NovaMetadataOptions = { ...opts, configDrive: true };
  for (const v of CONFIG_DRIVE_EC2_VERSIONS) {
    const version = resolveEc2Version(v) as string;
    const ud = userDataBytes(instance);
    if (ud) files.set(`ec2/${v}/user-data`, ud);
    // nova's config drive keeps the `_name` helper keys in public-keys (it tries to delete them
    // one level too high); cloud-init ignores them. Kept for fidelity.
    files.set(`ec2/${v}/meta-data.json`, Buffer.from(pythonJsonDumps(ec2MetaData(instance, version, o))));
  }
  for (const v of [...OPENSTACK_VERSIONS, 'latest']) {
    const version = resolveOpenstackVersion(v) as string;
    for (const name of openstackVersionFiles(instance, version, false)) {
      const data = openstackFile(instance, version, name, o);
      if (data) files.set(`openstack/${v}/${name}`, data);
    }
  }
  for (const f of contentFiles(instance)) files.set(`openstack/content/${f.key}`, f.content);
  return files;
}
