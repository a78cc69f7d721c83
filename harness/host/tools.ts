import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';

/** A host program the harness runs, with the Debian package that provides it. */
export interface ToolSpec {
  name: string;
  /** Alternatives tried in order; the first found is used (e.g. xorriso, then genisoimage). */
  commands: string[];
  debianPackage: string;
  /** Arguments that make the command print its version. */
  versionArgs: string[];
  /** Why the harness needs it, shown when it is missing. */
  purpose: string;
  required: boolean;
}

export const TOOLS: ToolSpec[] = [
  { name: 'qemu-system-x86_64', commands: ['qemu-system-x86_64'], debianPackage: 'qemu-system-x86', versionArgs: ['--version'], purpose: 'boots the guests', required: true },
  { name: 'qemu-img', commands: ['qemu-img'], debianPackage: 'qemu-utils', versionArgs: ['--version'], purpose: 'qcow2 overlays and image conversion', required: true },
  { name: 'iso9660 builder', commands: ['xorriso', 'genisoimage'], debianPackage: 'xorriso', versionArgs: ['-version'], purpose: 'iso9660 config drives', required: true },
  { name: 'mkfs.vfat', commands: ['mkfs.vfat'], debianPackage: 'dosfstools', versionArgs: ['--help'], purpose: 'vfat config drives', required: true },
  { name: 'mtools', commands: ['mcopy'], debianPackage: 'mtools', versionArgs: ['--version'], purpose: 'fills vfat config drives without mounts', required: true },
  { name: 'socat', commands: ['socat'], debianPackage: 'socat', versionArgs: ['-V'], purpose: 'relays guestfwd connections to the metadata proxy', required: true },
  { name: 'mmdebstrap', commands: ['mmdebstrap'], debianPackage: 'mmdebstrap', versionArgs: ['--version'], purpose: 'builds offline Debian images', required: true },
  { name: 'grub-mkimage', commands: ['grub-mkimage'], debianPackage: 'grub-pc-bin', versionArgs: ['--version'], purpose: 'makes built images BIOS-bootable', required: true },
  { name: 'mke2fs', commands: ['mke2fs'], debianPackage: 'e2fsprogs', versionArgs: ['-V'], purpose: 'root filesystem of built images', required: true },
  { name: 'sfdisk', commands: ['sfdisk'], debianPackage: 'fdisk', versionArgs: ['--version'], purpose: 'partitions built images', required: true },
  { name: 'busybox', commands: ['busybox'], debianPackage: 'busybox-static', versionArgs: ['--help'], purpose: 'builds the fixture image (static busybox in its initramfs)', required: false },
  { name: 'dropbear', commands: ['dropbear'], debianPackage: 'dropbear-bin', versionArgs: ['-V'], purpose: 'builds the fixture image (its SSH server)', required: false },
  { name: 'dropbearkey', commands: ['dropbearkey'], debianPackage: 'dropbear-bin', versionArgs: ['-h'], purpose: 'builds the fixture image (host keys at boot)', required: false },
  { name: 'gpgv', commands: ['gpgv'], debianPackage: 'gpgv', versionArgs: ['--version'], purpose: 'checks signatures of downloaded checksum files', required: false },
  { name: 'gpg', commands: ['gpg'], debianPackage: 'gpg', versionArgs: ['--version'], purpose: 'reads the fingerprints in a keyring and keeps only the pinned signing key for gpgv', required: false },
  { name: 'dpkg-deb', commands: ['dpkg-deb'], debianPackage: 'dpkg', versionArgs: ['--version'], purpose: 'reads a cloud-init .deb given to images build --cloud-init-deb or a case\'s cloud_init_deb', required: false },
  { name: 'setpriv', commands: ['setpriv'], debianPackage: 'util-linux', versionArgs: ['--version'], purpose: 'ties each qemu to the harness (parent-death signal)', required: true },
];

export interface ToolStatus {
  name: string;
  found: boolean;
  command?: string;
  path?: string;
  version?: string;
  debianPackage: string;
  purpose: string;
  required: boolean;
}

/** Looks `cmd` up on PATH (plus the sbin directories, where mkfs.vfat and sfdisk live). */
export async function which(cmd: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, cmd);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** First line that looks like a version, from whatever the tool printed. */
function firstVersionLine(text: string): string | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /\d+\.\d+/.test(l)) ?? lines[0];
}

export async function checkTool(spec: ToolSpec): Promise<ToolStatus> {
  const base = { name: spec.name, debianPackage: spec.debianPackage, purpose: spec.purpose, required: spec.required };
  for (const command of spec.commands) {
    const path = await which(command);
    if (!path) continue;
    const r = await execa(path, spec.versionArgs, { reject: false, all: true, timeout: 5000 });
    return { ...base, found: true, command, path, version: firstVersionLine(r.all ?? '') };
  }
  return { ...base, found: false };
}

export function checkTools(specs: ToolSpec[] = TOOLS): Promise<ToolStatus[]> {
  return Promise.all(specs.map(checkTool));
}

/**
 * Resolves a tool's command or throws naming the Debian package to install. Only looks the command
 * up on PATH (no `--version` run: that is doctor's job) and remembers the answer per PATH for the
 * life of the process — a cell asks for qemu, qemu-img, socat and a drive builder on every boot,
 * and each version run costs a fork and an exec under a loaded host.
 */
export function requireTool(name: string): Promise<string> {
  const key = `${name}\0${process.env.PATH ?? ''}`;
  let found = resolvedTools.get(key);
  if (!found) {
    found = resolveTool(name);
    resolvedTools.set(key, found);
    // A missing tool is not remembered: a later call (after an install) looks again.
    found.catch(() => resolvedTools.delete(key));
  }
  return found;
}

const resolvedTools = new Map<string, Promise<string>>();

async function resolveTool(name: string): Promise<string> {
  const spec = TOOLS.find((t) => t.name === name || t.commands.includes(name));
  if (!spec) throw new Error(`unknown tool ${name}`);
  for (const command of spec.commands) {
    const path = await which(command);
    if (path) return path;
  }
  throw new Error(`${spec.commands.join(' or ')} not found (needed for: ${spec.purpose}); install the Debian package ${spec.debianPackage}`);
}
