import type { Guest } from '../ssh/guest.ts';

/**
 * What certify learns about an image from inside a booted VM, each fact with where it came from,
 * so a reader of the card can check it. Nothing here comes from a manifest (docs/facts.md §9).
 */
export interface ImageFacts {
  defaultUser?: { name: string; from: string };
  cloudInitVersion?: { version: string; from: string };
  /** The renderer cloud-init chose; `harness` is what the NIC probes can read (eni, netplan, else none). */
  renderer?: { name: string; from: string; harness: 'eni' | 'netplan' | 'none' };
  /** The guest's name of the first NIC (by its MAC). */
  firstNic?: string;
  os?: string;
  /** Commands that did not answer, with the first line of what they said: why a fact came from a fallback. */
  misses?: string[];
}

// cloud-init's own merged system config (cloud.cfg + cloud.cfg.d): the user `users: [default]` makes.
const DEFAULT_USER_PY =
  'import json\nfrom cloudinit import stages\ncfg = stages.Init().cfg\nprint(json.dumps(((cfg.get("system_info") or {}).get("default_user") or {}).get("name")))';

const RENDERED_FILES: [string, string][] = [
  ['/etc/netplan/50-cloud-init.yaml', 'netplan'],
  ['/etc/network/interfaces.d/50-cloud-init', 'eni'],
  ['/etc/NetworkManager/system-connections/cloud-init-*.nmconnection', 'network-manager'],
  ['/etc/systemd/network/10-cloud-init-*.network', 'networkd'],
  ['/etc/sysconfig/network-scripts/ifcfg-*', 'sysconfig'],
];

function harnessRenderer(name: string): 'eni' | 'netplan' | 'none' {
  return name === 'eni' || name === 'netplan' ? name : 'none';
}

/** Reads the facts as root (the login user has sudo); a fact that cannot be read is left out. */
export async function gatherFacts(guest: Guest, firstMac: string | undefined): Promise<ImageFacts> {
  const facts: ImageFacts = {};
  const misses: string[] = [];
  const run = async (shell: string, label = shell) => {
    const r = await guest.exec({ shell }, { root: true, timeoutMs: 60_000 });
    if (r.code === 0) return r.stdout.trim();
    misses.push(`${label}: exit ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').pop()}` : ''}`);
    return undefined;
  };
  const py = await run(`python3 -c '${DEFAULT_USER_PY}'`, 'python3: cloudinit.stages.Init().cfg');
  const fromCfg = py ? (JSON.parse(py.split('\n').pop()!) as unknown) : undefined;
  if (typeof fromCfg === 'string' && fromCfg) facts.defaultUser = { name: fromCfg, from: "cloud-init's system config (system_info.default_user)" };
  if (!facts.defaultUser) {
    // The instance data cloud-init keeps of its merged config (renamed merged_system_cfg in 23.4).
    const q = await run('cloud-init query merged_system_cfg.system_info.default_user.name 2>/dev/null || cloud-init query merged_cfg.system_info.default_user.name 2>/dev/null');
    if (q && /^[a-z_][a-z0-9_-]*$/i.test(q)) facts.defaultUser = { name: q, from: '`cloud-init query` (merged system config)' };
  }
  const log = (await run('cat /var/log/cloud-init.log')) ?? '';
  if (!facts.defaultUser) {
    // cloud-init logs each user it creates; the discovery login user is not the image's.
    const added = [...log.matchAll(/Adding user (\S+)/g)].map((m) => m[1]!).filter((u) => u !== DISCOVERY_USER);
    if (added[0]) facts.defaultUser = { name: added[0], from: 'cloud-init.log ("Adding user")' };
  }
  const version = await run('cloud-init --version 2>&1');
  const v = version && /(\d+\.\d+(?:\.\d+)?\S*)\s*$/.exec(version)?.[1];
  if (v) facts.cloudInitVersion = { version: v, from: '`cloud-init --version`' };
  const selected = /Selected renderer '([\w-]+)'/.exec(log)?.[1];
  if (selected) facts.renderer = { name: selected, from: "cloud-init.log (\"Selected renderer\")", harness: harnessRenderer(selected) };
  else {
    for (const [glob, name] of RENDERED_FILES) {
      if (await run(`ls ${glob} >/dev/null 2>&1 && echo yes || true`)) {
        facts.renderer = { name, from: `${glob} exists`, harness: harnessRenderer(name) };
        break;
      }
    }
  }
  const nics = (await run('for i in /sys/class/net/*; do echo "${i##*/} $(cat "$i/address")"; done')) ?? '';
  const first = nics.split('\n').find((l) => firstMac && l.endsWith(` ${firstMac.toLowerCase()}`));
  if (first) facts.firstNic = first.split(' ')[0];
  const os = await run('. /etc/os-release && echo "$PRETTY_NAME"');
  if (os) facts.os = os;
  if (misses.length) facts.misses = misses;
  return facts;
}

/** The user the discovery boot's #cloud-config creates to log in with before the default user is known. */
export const DISCOVERY_USER = 'cloudprobe-certify';
