import type { ImageManifest } from './manifest.ts';

/** An image ready to boot from the local cache. Paths are absolute; files are never modified. */
export interface LocalImage {
  name: string;
  manifest: ImageManifest;
  /** Disk image (format = manifest.format) to put a qcow2 overlay on; absent for a kernel+initrd-only image. */
  path?: string;
  /** Kernel and initrd for a direct-kernel boot: required when manifest.boot.type is `kernel`, optional otherwise. */
  kernel?: string;
  initrd?: string;
  /** Kernel command line for a direct-kernel boot (root=, console=ttyS0, net.ifnames=0 ...). */
  cmdline?: string;
  /** A derived build with the user's cloud-init package installed over the archive's. */
  cloudInitDeb?: { sha256: string; version: string };
}
