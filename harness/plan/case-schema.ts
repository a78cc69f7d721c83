import { z } from 'zod';
import { cidrSchema, instanceFileSchema, ipv4Schema } from '../model/instance.ts';
import { DATASOURCE_KINDS, IMDSV2_MODES } from '../model/datasources.ts';
import { FAILURE_MODES } from '../model/expectations.ts';
import { METADATA_PATHS } from '../model/topology.ts';

/**
 * The YAML case file: matrix axes (images × datasources × networks, minus excludes), one instance
 * and what cloud-init must have done. `cloudprobe schema case` prints this as JSON Schema.
 */

/**
 * Placeholders a case may use anywhere in `instance` and `expect`: the run's generated SSH public
 * key and password, and the image's default user (from its manifest: ubuntu, cirros, …).
 */
export const PLACEHOLDERS = ['SSH_PUBLIC_KEY', 'PASSWORD', 'DEFAULT_USER'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
const PLACEHOLDER_RE = /\$\{([^}]*)\}/g;
/** A known placeholder's opening with no closing brace right after its name (`${PASSWORD` …). */
const UNTERMINATED_RE = new RegExp(`\\$\\{(${PLACEHOLDERS.join('|')})(?![A-Za-z0-9_]*\\})`, 'g');

/** Network layouts the planner knows; each becomes instance.nics (see network-modes.ts). */
export const NETWORK_MODES = ['dhcp', 'static', 'multi-nic-dhcp', 'multi-nic-static'] as const;
export type NetworkMode = (typeof NETWORK_MODES)[number];

const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be lower case letters, digits, ".", "_" or "-" (it becomes part of a path)');

const datasourceEntry = z.union([
  z.enum(DATASOURCE_KINDS),
  z
    .object({
      kind: z.literal('metadata-ec2'),
      imdsv2: z.enum(IMDSV2_MODES).default('off').describe('IMDSv2 tokens: off, optional or required'),
    })
    .strict(),
]);
export type DatasourceEntry = z.output<typeof datasourceEntry>;

const excludeEntry = z
  .object({
    image: z.string().optional(),
    datasource: z.string().optional().describe('a datasource label, e.g. metadata-ec2-imdsv2-required'),
    network: z.string().optional().describe('a network mode or a layout label'),
  })
  .strict()
  .refine((e) => e.image !== undefined || e.datasource !== undefined || e.network !== undefined, 'an exclude needs image, datasource or network');

const mac = z.string().regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'must be a MAC address');

const cleanBootSchema = z
  .union([
    z.literal(false),
    z
      .object({
        allowed_recoverable: z.array(z.string()).default([]),
        deprecations: z
          .enum(['warn', 'fail'])
          .default('warn')
          .describe('deprecated user-data keys: warn (listed by user-data-schema, which still passes) or fail'),
      })
      .strict(),
  ])
  .describe('false turns the check off');

const failureSchema = z
  .object({
    modes: z.array(z.enum(FAILURE_MODES)).min(1).describe('what the console must show: metadata-unreachable, no-datasource, hostname-not-from-metadata'),
    nics: z
      .array(z.object({ state: z.enum(['no-address', 'untouched', 'address']), address: z.string().optional() }).strict())
      .optional()
      .describe("each NIC's state in NIC order, judged from cloud-init's ci-info table on the console"),
  })
  .strict()
  .describe('a scenario meant to fail: judged from the serial console, SSH is not needed');

/** Mirrors harness/model/expectations.ts in the snake_case of the instance file. */
const expectFields = {
  hostname: z.string().optional(),
  fqdn: z.string().optional(),
  etc_hosts: z.object({ fqdn: z.string(), hostname: z.string() }).strict().optional(),
  authorized_keys: z.array(z.object({ user: z.string(), keys: z.array(z.string()).min(1) }).strict()).optional(),
  password_login: z.array(z.object({ user: z.string(), password: z.string() }).strict()).optional(),
  timezone: z.string().optional(),
  runcmd_paths: z.array(z.string().startsWith('/')).optional(),
  nics: z
    .array(
      z
        .object({
          mac,
          mode: z.enum(['static', 'dhcp', 'unconfigured']),
          address: cidrSchema.optional(),
          gateway: ipv4Schema.optional(),
        })
        .strict(),
    )
    .optional()
    .describe('default: derived from the network mode and the datasource'),
  datasource: z.enum(['ConfigDrive', 'OpenStack', 'Ec2']).optional().describe('default: derived from the datasource'),
  metadata_requests: z.array(z.string().startsWith('/')).optional().describe('checked on metadata-service cells only'),
  failure: failureSchema.optional(),
};
const expectSchema = z.object({ ...expectFields, clean_boot: cleanBootSchema.default({ allowed_recoverable: [], deprecations: 'warn' }) }).strict();
/** A layout's `expect`: replaces the case's fields it names (e.g. `failure` for a scenario meant to fail). */
const expectOverrideSchema = z.object({ ...expectFields, clean_boot: cleanBootSchema.optional() }).strict();
export type CaseExpectOverride = z.output<typeof expectOverrideSchema>;
export type CaseExpect = z.output<typeof expectSchema>;

/** A neutron subnet as `openstack subnet create` takes it. */
const subnetSchema = z
  .object({
    cidr: z.string().describe('e.g. 172.16.11.0/24'),
    gateway_ip: ipv4Schema.nullable().optional().describe('default: the first host address; null: no gateway'),
    enable_dhcp: z.boolean().default(true),
    dns_nameservers: z.array(ipv4Schema).default([]),
    host_routes: z.array(z.object({ destination: z.string(), nexthop: ipv4Schema }).strict()).default([]),
  })
  .strict();

const neutronNetworkSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, "_", "." or "-"'),
    mtu: z.number().int().min(576).max(9000).optional(),
    router: z
      .union([z.string().min(1), z.boolean()])
      .optional()
      .describe('the router its subnet is attached to, on gateway_ip (true: "router1"); absent or false: not attached'),
    metadata: z.enum(METADATA_PATHS).default('l3-agent').describe('which agent serves 169.254.169.254: l3-agent (neutron default), dhcp-agent, both, none'),
    subnet: subnetSchema,
  })
  .strict();

const layoutNicSchema = z.union([
  z.string().describe('a network name: a port with an address allocated from its subnet'),
  z.object({ network: z.string(), fixed_ip: ipv4Schema.optional(), mac: mac.optional() }).strict(),
]);

/** A network layout on the neutron backend: networks as a user creates them, the instance's ports on them. */
const layoutSchema = z
  .object({
    label: name.describe('the network coordinate in cell ids'),
    description: z.string().optional(),
    networks: z.array(neutronNetworkSchema).min(1),
    nics: z.array(layoutNicSchema).min(1).describe("the instance's ports, in NIC order"),
    datasources: z.array(z.string()).min(1).optional().describe('only with these datasource labels (default: every datasource of the case)'),
    expect: expectOverrideSchema.optional(),
  })
  .strict();
export type NetworkLayout = z.output<typeof layoutSchema>;
export type NetworkEntry = NetworkMode | NetworkLayout;

/** The network coordinate of an axis entry. */
export function networkLabel(n: NetworkEntry): string {
  return typeof n === 'string' ? n : n.label;
}

export const caseFileSchema = z
  .object({
    name: name.optional().describe('default: the file name without .yaml'),
    description: z.string().optional(),
    images: z.array(z.string().min(1)).min(1),
    cloud_init_deb: z
      .string()
      .min(1)
      .optional()
      .describe("a cloud-init .deb of your own (path relative to this file): every image of the case boots a derived build with it installed over the archive's cloud-init (images built from a Debian recipe only)"),
    datasources: z.array(datasourceEntry).min(1),
    networks: z
      .array(z.union([z.enum(NETWORK_MODES), layoutSchema]))
      .min(1)
      .default(['dhcp'])
      .describe('shorthand modes on QEMU user networking (dhcp, static, multi-nic-dhcp, multi-nic-static), or neutron layouts'),
    exclude: z.array(excludeEntry).default([]),
    /**
     * Cells the image's capability profile says cannot work (e.g. a static NIC on Cirros) are left
     * out and reported as skipped; `run` boots them anyway and expects the probes to say n/a.
     */
    inapplicable: z.enum(['skip', 'run']).default('skip'),
    instance: instanceFileSchema.describe('the instance model (cloudprobe schema instance); nics come from the network mode'),
    expect: expectSchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    // A typo in an exclude would silently exclude nothing: refuse values that are on no axis.
    const images = new Set(c.images);
    const datasources = new Set(c.datasources.map(datasourceLabel));
    c.exclude.forEach((e, k) => {
      if (e.image !== undefined && !images.has(e.image)) {
        ctx.addIssue({ code: 'custom', path: ['exclude', k, 'image'], message: `"${e.image}" is not in images (${[...images].join(', ')})` });
      }
      if (e.datasource !== undefined && !datasources.has(e.datasource)) {
        ctx.addIssue({ code: 'custom', path: ['exclude', k, 'datasource'], message: `"${e.datasource}" is not in datasources (${[...datasources].join(', ')})` });
      }
      const labels = c.networks.map(networkLabel);
      if (e.network !== undefined && !labels.includes(e.network)) {
        ctx.addIssue({ code: 'custom', path: ['exclude', k, 'network'], message: `"${e.network}" is not in networks (${labels.join(', ')})` });
      }
    });
    const labels = new Set<string>();
    c.networks.forEach((n, k) => {
      const label = networkLabel(n);
      if (labels.has(label)) ctx.addIssue({ code: 'custom', path: ['networks', k, ...(typeof n === 'string' ? [] : ['label'])], message: `duplicate network ${label}` });
      labels.add(label);
      if (typeof n === 'string') return;
      const names = n.networks.map((x) => x.name);
      n.nics.forEach((nic, j) => {
        const net = typeof nic === 'string' ? nic : nic.network;
        if (!names.includes(net)) ctx.addIssue({ code: 'custom', path: ['networks', k, 'nics', j, ...(typeof nic === 'string' ? [] : ['network'])], message: `"${net}" is not a network of this layout (${names.join(', ')})` });
      });
      (n.datasources ?? []).forEach((d, j) => {
        if (!datasources.has(d)) ctx.addIssue({ code: 'custom', path: ['networks', k, 'datasources', j], message: `"${d}" is not in datasources (${[...datasources].join(', ')})` });
      });
    });
    const seen = new Set<string>();
    c.datasources.forEach((d, k) => {
      const label = datasourceLabel(d);
      if (seen.has(label)) ctx.addIssue({ code: 'custom', path: ['datasources', k], message: `duplicate datasource ${label}` });
      seen.add(label);
    });
    for (const [k, img] of c.images.entries()) {
      if (c.images.indexOf(img) !== k) ctx.addIssue({ code: 'custom', path: ['images', k], message: `duplicate image ${img}` });
    }
    if (c.instance.nics !== undefined && JSON.stringify(c.instance.nics) !== JSON.stringify(instanceFileSchema.parse({ name: 'x' }).nics)) {
      ctx.addIssue({ code: 'custom', path: ['instance', 'nics'], message: 'nics come from the network modes (networks:); do not set them in a case' });
    }
    if (c.instance.uuid !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['instance', 'uuid'], message: 'every cell gets its own uuid (cells must not share an identity); do not set one in a case' });
    }
    checkPlaceholders(c.instance, ['instance'], ctx);
    checkPlaceholders(c.expect, ['expect'], ctx);
  });

export type CaseFile = z.output<typeof caseFileSchema>;

/** The label of a datasource in cell ids and excludes: `metadata-ec2-imdsv2-required` etc. */
export function datasourceLabel(d: DatasourceEntry): string {
  if (typeof d === 'string') return d;
  return d.imdsv2 === 'off' ? d.kind : `${d.kind}-imdsv2-${d.imdsv2}`;
}

function checkPlaceholders(value: unknown, path: (string | number)[], ctx: z.RefinementCtx): void {
  if (typeof value === 'string') {
    for (const m of value.matchAll(UNTERMINATED_RE)) {
      ctx.addIssue({ code: 'custom', path, message: `\${${m[1]} is not closed: write \${${m[1]}}` });
    }
    for (const m of value.matchAll(PLACEHOLDER_RE)) {
      if (!(PLACEHOLDERS as readonly string[]).includes(m[1] ?? '')) {
        ctx.addIssue({ code: 'custom', path, message: `unknown placeholder \${${m[1]}} (known: ${PLACEHOLDERS.map((p) => `\${${p}}`).join(', ')})` });
      }
    }
  } else if (Array.isArray(value)) {
    value.forEach((v, k) => checkPlaceholders(v, [...path, k], ctx));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      // Only values are filled in: a placeholder in a key would reach the guest as written.
      if (k.includes('${')) ctx.addIssue({ code: 'custom', path: [...path, k], message: `placeholders are filled in values only, not in keys ("${k}")` });
      checkPlaceholders(v, [...path, k], ctx);
    }
  }
}

/** Replaces every `${NAME}` in every string of `value` (objects and arrays are copied). */
export function substitutePlaceholders<T>(value: T, values: Record<Placeholder, string>): T {
  if (typeof value === 'string') return value.replace(PLACEHOLDER_RE, (whole, key: string) => (key in values ? values[key as Placeholder] : whole)) as T;
  if (Array.isArray(value)) return value.map((v) => substitutePlaceholders(v, values)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitutePlaceholders(v, values)])) as T;
  }
  return value;
}

/** JSON Schema of a case file, for editors (`# yaml-language-server: $schema=…`). */
export function caseJsonSchema(): unknown {
  return z.toJSONSchema(caseFileSchema, { io: 'input' });
}
