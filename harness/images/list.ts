import { stat } from 'node:fs/promises';
import { findBuilt } from './build.ts';
import { downloadPaths } from './download.ts';
import { catalogDir, loadCatalog, type UrlSource } from './manifest.ts';
import { readSidecar } from './verify.ts';

export interface ImageListRow {
  name: string;
  source: 'url' | 'build' | 'local';
  cached: boolean;
  /** Bytes on disk of the cached files (0 when not cached). */
  sizeBytes: number;
  /** Disk image, or the kernel for a kernel-only image; where it will be when not cached. */
  path: string | null;
  description: string;
}

async function sizeOf(files: (string | undefined)[]): Promise<number> {
  let total = 0;
  for (const f of files) if (f) total += await stat(f).then((s) => s.size).catch(() => 0);
  return total;
}

/** One row per manifest. "Cached" means present with its verification record (no re-hash here). */
export async function listImages(opts: { catalogDir?: string; cacheDir?: string } = {}): Promise<ImageListRow[]> {
  const catalog = await loadCatalog(opts.catalogDir ?? catalogDir());
  const rows: ImageListRow[] = [];
  for (const m of catalog.manifests.values()) {
    const base = { name: m.name, source: m.source.kind, description: m.description.trim() };
    if (m.source.kind === 'url') {
      const { file } = downloadPaths(m as typeof m & { source: UrlSource }, opts.cacheDir);
      const cached = (await readSidecar(file)) !== undefined && (await sizeOf([file])) > 0;
      rows.push({ ...base, cached, sizeBytes: cached ? await sizeOf([file]) : 0, path: file });
    } else if (m.source.kind === 'local') {
      const size = await sizeOf([m.source.path]);
      rows.push({ ...base, cached: size > 0, sizeBytes: size, path: m.source.path });
    } else {
      const built = await findBuilt(m, opts).catch(() => undefined);
      rows.push({ ...base, cached: Boolean(built), sizeBytes: built ? await sizeOf([built.path, built.kernel, built.initrd]) : 0, path: built ? (built.path ?? built.kernel ?? null) : null });
    }
  }
  return rows;
}

export function formatImageList(rows: ImageListRow[]): string {
  const w = Math.max(...rows.map((r) => r.name.length), 4);
  const lines = [`${'NAME'.padEnd(w)}  SOURCE  CACHED  SIZE       PATH`];
  for (const r of rows) {
    const size = r.cached ? `${(r.sizeBytes / 1048576).toFixed(1)} MiB` : '-';
    lines.push(`${r.name.padEnd(w)}  ${r.source.padEnd(6)}  ${(r.cached ? 'yes' : 'no').padEnd(6)}  ${size.padEnd(9)}  ${r.path ?? '-'}`);
  }
  return lines.join('\n');
}
