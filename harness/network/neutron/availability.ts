import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { which } from '../../host/tools.ts';
import { ip, nsExec } from './ip.ts';
import { CellNames } from './names.ts';
import { removeNamespace } from './sweep.ts';

/**
 * Can this host build neutron topologies? For `doctor`, and for skipping neutron cells with the
 * reason (never silently turning them into slirp cells). The static checks say what is missing;
 * the probe then really builds a namespace with a bridge, a tap and a NAT REDIRECT rule, and
 * removes it, since a container can have every binary and still be refused by the kernel.
 */

export interface NeutronAvailability {
  available: boolean;
  /** Why not, one line each (empty when available). */
  reasons: string[];
}

export interface AvailabilityOptions {
  /** Build and remove a throw-away namespace (default true; only when the static checks pass). */
  probe?: boolean;
  /** Looks a command up (default: PATH plus the sbin dirs); tests stand in a host lacking tools. */
  which?: (command: string) => Promise<string | undefined>;
}

const TOOLS: { command: string; debianPackage: string; purpose: string }[] = [
  { command: 'ip', debianPackage: 'iproute2', purpose: 'namespaces, bridges, veths, taps' },
  { command: 'ss', debianPackage: 'iproute2', purpose: 'tells when dnsmasq and haproxy listen' },
  { command: 'dnsmasq', debianPackage: 'dnsmasq-base', purpose: 'DHCP in qdhcp namespaces' },
  { command: 'haproxy', debianPackage: 'haproxy', purpose: 'the metadata proxies' },
  { command: 'iptables', debianPackage: 'iptables', purpose: "the l3-agent's REDIRECT to the router's proxy" },
  { command: 'socat', debianPackage: 'socat', purpose: 'relays SSH to guests from inside a namespace' },
  { command: 'setpriv', debianPackage: 'util-linux', purpose: 'ties daemons to the harness (parent-death signal)' },
];

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;

/** Effective capabilities from /proc/self/status (CapEff, hex). */
async function effectiveCaps(): Promise<bigint | undefined> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

export async function neutronAvailability(opts: AvailabilityOptions = {}): Promise<NeutronAvailability> {
  const reasons: string[] = [];
  const caps = await effectiveCaps();
  const has = (bit: number) => caps !== undefined && (caps & (1n << BigInt(bit))) !== 0n;
  // `ip netns add` bind-mounts under /run/netns (CAP_SYS_ADMIN); devices need CAP_NET_ADMIN.
  if (!has(CAP_NET_ADMIN) || !has(CAP_SYS_ADMIN)) {
    const uid = process.getuid?.();
    reasons.push(`needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) for network namespaces; running as uid ${uid ?? '?'} without ${[!has(CAP_NET_ADMIN) && 'CAP_NET_ADMIN', !has(CAP_SYS_ADMIN) && 'CAP_SYS_ADMIN'].filter(Boolean).join(' and ')}`);
  }
  try {
    const s = await stat('/dev/net/tun');
    if (!s.isCharacterDevice()) reasons.push('/dev/net/tun is not a character device (QEMU taps need it)');
    else await access('/dev/net/tun', constants.R_OK | constants.W_OK).catch(() => reasons.push('/dev/net/tun is not readable and writable (QEMU taps need it)'));
  } catch {
    reasons.push('/dev/net/tun is missing (QEMU taps need it; modprobe tun)');
  }
  const lookup = opts.which ?? ((command: string) => which(command));
  for (const t of TOOLS) {
    if (!(await lookup(t.command))) reasons.push(`${t.command} not found: install Debian package ${t.debianPackage} (${t.purpose})`);
  }
  if (reasons.length === 0) {
    try {
      await ip(['netns', 'list']);
    } catch (err) {
      reasons.push(`ip netns does not work: ${(err as Error).message}`);
    }
  }
  if (reasons.length === 0 && (opts.probe ?? true)) {
    const probe = await probeNamespace();
    if (probe) reasons.push(probe);
  }
  return { available: reasons.length === 0, reasons };
}

/** Builds what a topology needs in a throw-away namespace; returns the first failure, if any. */
async function probeNamespace(): Promise<string | undefined> {
  const ns = new CellNames('doctor').segment;
  try {
    await ip(['netns', 'add', ns]);
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message}`;
  }
  try {
    await ip(['-n', ns, 'link', 'add', 'brqprobe', 'type', 'bridge']);
    await ip(['-n', ns, 'tuntap', 'add', 'dev', 'tapprobe', 'mode', 'tap']);
    await ip(['-n', ns, 'link', 'set', 'tapprobe', 'master', 'brqprobe']);
    await nsExec(ns, ['iptables', '-w', '-t', 'nat', '-A', 'PREROUTING', '-d', '169.254.169.254/32', '-p', 'tcp', '--dport', '80', '-j', 'REDIRECT', '--to-ports', '9697']);
    return undefined;
  } catch (err) {
    return `a namespace with bridge, tap and NAT REDIRECT failed: ${(err as Error).message}`;
  } finally {
    await removeNamespace(ns).catch(() => undefined);
  }
}
