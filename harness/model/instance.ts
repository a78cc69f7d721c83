import { randomUUID } from 'node:crypto';
import { readInputFile } from '../util/input-file.ts';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { UserError } from '../util/errors.ts';
import { isValidAddress, isValidCidr } from '../util/ipv4.ts';
import { loadYamlFile, parseYaml } from '../util/yaml-file.ts';

/** The one model of an instance (the instance file) that both datasources (config drive, metadata service) serve. */

const mac = z
  .string()
  .regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'must be a MAC address like 52:54:00:12:34:56')
  .transform((m) => m.toLowerCase());

// Checked by util/ipv4.ts, the module that later does the arithmetic on them, so an address the
// schema lets through is one network_data.json, QEMU and the guest all read the same way.
export const ipv4Schema = z
  .string()
  .refine(isValidAddress, { error: (iss) => `${JSON.stringify(iss.input)} is not an IPv4 address: want four numbers 0-255, e.g. 10.0.2.2` })
  .meta({ format: 'ipv4' });
export const cidrSchema = z
  .string()
  .refine(isValidCidr, { error: (iss) => `${JSON.stringify(iss.input)} is not an IPv4 address in CIDR form: want four numbers 0-255 and a prefix 0-32, e.g. 10.0.2.50/24` })
  .meta({ description: 'IPv4 address with prefix length, e.g. 10.0.2.50/24' });

export const nicSchema = z
  .object({
    mac,
    mode: z.enum(['dhcp', 'static']).default('dhcp'),
    address: cidrSchema.optional(),
    gateway: ipv4Schema.optional(),
    dns: z.array(ipv4Schema).default([]),
    mtu: z.number().int().min(576).max(9216).optional().describe("the network's MTU (nova serves it for static NICs only)"),
    routes: z
      .array(z.object({ destination: cidrSchema.describe('e.g. 10.9.0.0/16'), nexthop: ipv4Schema }).strict())
      .optional()
      .describe("the subnet's host_routes (static NICs: added after the default route)"),
    port_id: z.uuid().optional().describe("the neutron port's id (network_data.json vif_id and link name); derived when absent"),
    network_id: z.uuid().optional().describe("the neutron network's id; derived when absent"),
  })
  .strict()
  .superRefine((nic, ctx) => {
    if (nic.mode === 'static' && !nic.address) ctx.addIssue({ code: 'custom', path: ['address'], message: 'a static NIC needs an address (CIDR)' });
  });

export const instanceFileSchema = z
  .object({
    uuid: z.uuid().optional().describe('generated when absent'),
    name: z.string().min(1),
    hostname: z.string().min(1).optional().describe('nova default: <name>.novalocal'),
    project_id: z.string().default('cloudprobe'),
    availability_zone: z.string().default('nova'),
    launch_index: z.number().int().min(0).default(0),
    flavor: z.string().min(1).optional().describe('nova flavor name, served as EC2 instance-type (default m1.small)'),
    meta: z.record(z.string(), z.string()).default({}),
    public_keys: z.record(z.string(), z.string()).default({}),
    admin_pass: z.string().optional(),
    user_data: z.string().optional(),
    user_data_file: z.string().optional().describe('path relative to the instance file'),
    vendor_data: z.record(z.string(), z.unknown()).default({}),
    vendor_data2: z.record(z.string(), z.unknown()).default({}),
    files: z.array(z.object({ path: z.string().startsWith('/'), content: z.string() }).strict()).default([]),
    nics: z.array(nicSchema).min(1).default([{ mac: '52:54:00:12:34:56', mode: 'dhcp', dns: [] }]),
  })
  .strict()
  .superRefine((i, ctx) => {
    const tooBig = i.user_data !== undefined ? userDataTooBig(i.user_data) : undefined;
    if (tooBig) ctx.addIssue({ code: 'custom', path: ['user_data'], message: tooBig });
    if (i.user_data !== undefined && i.user_data_file !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['user_data_file'], message: 'give user_data or user_data_file, not both' });
    }
    const seen = new Set<string>();
    i.nics.forEach((n, k) => {
      if (seen.has(n.mac)) ctx.addIssue({ code: 'custom', path: ['nics', k, 'mac'], message: `duplicate MAC ${n.mac}` });
      seen.add(n.mac);
    });
  });

/**
 * nova refuses user data whose base64 form is over 65535 characters (MAX_USERDATA_SIZE in its
 * servers API), i.e. about 48 KiB of raw data: a case with more could never boot on OpenStack,
 * and a huge one made every metadata request slow. docs/facts.md §2.
 */
export const NOVA_MAX_USERDATA_BASE64 = 65535;

export function userDataTooBig(userData: string): string | undefined {
  const bytes = Buffer.byteLength(userData);
  const encoded = 4 * Math.ceil(bytes / 3);
  return encoded > NOVA_MAX_USERDATA_BASE64 ? `${bytes} bytes is more than nova accepts (${NOVA_MAX_USERDATA_BASE64} characters once base64-encoded, about 48 KiB)` : undefined;
}

export type InstanceFile = z.output<typeof instanceFileSchema>;
export type Nic = z.output<typeof nicSchema>;

/** A resolved instance: uuid fixed, hostname defaulted, user data read in. */
export type Instance = Omit<InstanceFile, 'uuid' | 'hostname' | 'user_data_file'> & { uuid: string; hostname: string };

export async function resolveInstance(file: InstanceFile, baseDir: string): Promise<Instance> {
  const { user_data_file, ...rest } = file;
  let user_data = rest.user_data;
  if (user_data_file !== undefined) {
    const p = resolve(baseDir, user_data_file);
    try {
      user_data = await readInputFile(p);
    } catch (err) {
      throw new UserError(`user_data_file ${p}: ${(err as Error).message}`);
    }
    const tooBig = userDataTooBig(user_data);
    if (tooBig) throw new UserError(`user_data_file ${p}: ${tooBig}`);
  }
  return {
    ...rest,
    uuid: rest.uuid ?? randomUUID(),
    hostname: rest.hostname ?? `${rest.name}.novalocal`,
    ...(user_data !== undefined ? { user_data } : {}),
  };
}

export async function loadInstanceFile(path: string): Promise<Instance> {
  return resolveInstance(await loadYamlFile(path, instanceFileSchema), dirname(path));
}

export function parseInstance(text: string, file: string, baseDir = dirname(file)): Promise<Instance> {
  return resolveInstance(parseYaml(text, file, instanceFileSchema), baseDir);
}
