import type { Instance } from '../model/instance.ts';
import {
  EC2_VERSIONS,
  ec2MetaData,
  type Ec2Node,
  type Ec2Tree,
  OPENSTACK_VERSIONS,
  openstackFile,
  openstackVersionFiles,
  PASSWORD_NAME,
  resolveEc2Version,
  resolveOpenstackVersion,
  userDataBytes,
} from '../datasource/nova-metadata.ts';
import { instanceIdentityDocument } from './instance-identity.ts';

/**
 * Path → resource, with the lookup rules of nova's `InstanceMetadata.lookup` (base.py): paths are
 * normalised like posixpath.normpath, anything not under /openstack is the EC2 tree, dicts render
 * as sorted listings with `/` after directories, lists as lines.
 */

export const TEXT = 'text/plain; charset=UTF-8';
export const JSON_TYPE = 'application/json';
export const IMDS_TOKEN_PATH = '/latest/api/token';

export type Resource =
  | { kind: 'data'; body: Buffer; contentType: string }
  | { kind: 'password' }
  | { kind: 'token' };

export type Api = 'root' | 'ec2' | 'openstack';

export type PathResult = { status: 200; api: Api; path: string } | { status: 400; message: string };

/**
 * Request target → normalised, decoded absolute path. Malformed percent-encoding, encoded
 * NUL/control characters and invalid UTF-8 are refused (400) rather than guessed at.
 */
export function normalizeRequestPath(target: string): PathResult {
  let raw = target;
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(raw);
  if (abs) raw = raw.slice(abs[0].length) || '/';
  raw = raw.split(/[?#]/, 1)[0] ?? '';
  if (!raw.startsWith('/')) return { status: 400, message: 'request target must be an absolute path' };
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return { status: 400, message: 'malformed percent-encoding in path' };
  }
  if ([...decoded].some((c) => c.charCodeAt(0) < 0x20 || c === '\u007f' || c === '\ufffd')) return { status: 400, message: 'control or undecodable characters in path' };
  const path = normpath(decoded);
  const first = path.split('/')[1] ?? '';
  return { status: 200, api: path === '/' ? 'root' : first === 'openstack' ? 'openstack' : 'ec2', path };
}

/** posixpath.normpath for absolute paths: collapses `//`, `.`, `..` (never above `/`), trailing `/`. */
export function normpath(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

const text = (s: string): Resource => ({ kind: 'data', body: Buffer.from(s, 'utf8'), contentType: TEXT });

/** nova's ec2_md_print for a dict: sorted keys, directories as `key/`, `_name` entries as-is. */
function renderListing(tree: Record<string, Ec2Node | Buffer>): string {
  return Object.keys(tree)
    .filter((k) => k !== '_name')
    .sort()
    .map((k) => {
      const v = tree[k];
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)) return typeof v._name === 'string' ? v._name : `${k}/`;
      return k;
    })
    .join('\n');
}

function renderNode(node: Ec2Node | Buffer): Resource {
  if (Buffer.isBuffer(node)) return { kind: 'data', body: node, contentType: TEXT };
  if (Array.isArray(node)) return text(node.join('\n'));
  if (typeof node === 'object') return text(renderListing(node as Record<string, Ec2Node | Buffer>));
  return text(String(node));
}

export interface LookupContext {
  instance: Instance;
  guestIp?: string;
  /** Whether the AWS extensions are served: IMDSv2 tokens (`PUT /latest/api/token`) and `dynamic/instance-identity/`. */
  imdsv2: boolean;
  /** Today's date (YYYY-MM-DD): nova hides future-dated OpenStack versions. */
  today?: string;
}

/** `GET /`: the EC2 versions; nova answers it without identifying the instance. */
export function rootListing(): Resource {
  return text([...EC2_VERSIONS, 'latest'].join('\n'));
}

/** The resource at a normalised path, or undefined (404). */
export function lookup(path: string, ctx: LookupContext): Resource | undefined {
  if (path === '/') return rootListing();
  const tokens = path.split('/').slice(1);
  if (tokens[0] === 'openstack') return lookupOpenstack(tokens.slice(1), ctx);
  if (ctx.imdsv2 && path === IMDS_TOKEN_PATH) return { kind: 'token' };
  return lookupEc2(tokens, ctx);
}

function lookupOpenstack(tokens: string[], ctx: LookupContext): Resource | undefined {
  if (tokens.length === 0) {
    const today = ctx.today ?? new Date().toISOString().slice(0, 10);
    return text([...OPENSTACK_VERSIONS.filter((v) => v <= today), 'latest'].join('\n'));
  }
  // Injected files live only on the config drive; the service has no content/ entries.
  if (tokens[0] === 'content') return undefined;
  const version = resolveOpenstackVersion(tokens[0] ?? '');
  if (!version) return undefined;
  if (tokens.length === 1) return text(openstackVersionFiles(ctx.instance, version, true).join('\n'));
  const name = tokens.slice(1).join('/');
  if (name === PASSWORD_NAME) return openstackVersionFiles(ctx.instance, version, true).includes(PASSWORD_NAME) ? { kind: 'password' } : undefined;
  const data = openstackFile(ctx.instance, version, name, ctx.guestIp ? { guestIp: ctx.guestIp } : {});
  if (!data) return undefined;
  return { kind: 'data', body: data, contentType: name.endsWith('.json') ? JSON_TYPE : TEXT };
}

function lookupEc2(tokens: string[], ctx: LookupContext): Resource | undefined {
  const version = resolveEc2Version(tokens[0] ?? '');
  if (!version) return undefined;
  const ud = userDataBytes(ctx.instance);
  const top: Record<string, Ec2Node | Buffer> = { 'meta-data': ec2MetaData(ctx.instance, version, ctx.guestIp ? { guestIp: ctx.guestIp } : {}) };
  if (ud) top['user-data'] = ud;
  // AWS extension, served with IMDSv2 (see instance-identity.ts); nova's tree has no dynamic/.
  if (ctx.imdsv2) top.dynamic = { 'instance-identity': { document: Buffer.from(JSON.stringify(instanceIdentityDocument(ctx.instance, ctx.guestIp), null, 2)) } } as unknown as Ec2Tree;
  let node: Ec2Node | Buffer | undefined = top as Ec2Tree;
  for (const t of tokens.slice(1)) {
    if (node === undefined || Buffer.isBuffer(node) || t === '_name') return undefined;
    if (Array.isArray(node)) node = node.includes(t) ? t : undefined;
    else if (typeof node === 'object') node = Object.hasOwn(node, t) ? (node as Record<string, Ec2Node | Buffer>)[t] : undefined;
    else return undefined;
  }
  return node === undefined ? undefined : renderNode(node);
}
