import { listImages } from '../images/list.ts';
import { catalogDir, loadCatalog } from '../images/manifest.ts';
import type { ImageInfo, ImageLookup } from './planner.ts';

/**
 * The planner's view of the image catalog: every manifest in images/, and whether its image is in
 * the local cache. Nothing is built or downloaded here: `make e2e` builds the offline images
 * first, and a cell whose downloaded image is not cached is reported as skipped with the command
 * that fetches it.
 */
export async function imageLookup(dir: string = catalogDir()): Promise<ImageLookup> {
  const catalog = await loadCatalog(dir);
  const rows = new Map((await listImages({ catalogDir: dir })).map((r) => [r.name, r]));
  const infos = new Map<string, ImageInfo>();
  for (const [name, manifest] of catalog.manifests) {
    let unavailable: string | undefined;
    if (!rows.get(name)?.cached) {
      unavailable =
        manifest.source.kind === 'build'
          ? `image ${name} is not built here (run: npx cloudprobe images build ${name})`
          : manifest.source.kind === 'local'
            ? `image ${name}: its file ${manifest.source.path} is not here`
            : `image ${name} is not cached here (run: npx cloudprobe images fetch ${name})`;
    }
    infos.set(name, { manifest, ...(unavailable ? { unavailable } : {}) });
  }
  return (name) => infos.get(name);
}
