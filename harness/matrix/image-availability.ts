import { findBuilt } from '../images/build.ts';
import { loadCatalog } from '../images/manifest.ts';
import type { ImageInfo, ImageLookup } from './planner.ts';

/**
 * The planner's view of the image catalog: every manifest in images/, and whether its image is in
 * the local cache. Nothing is built or downloaded here: `make e2e` builds the offline images first,
 * and a cell whose image is not cached is reported as skipped with the command that fetches it.
 */
export async function imageLookup(catalogDir?: string): Promise<ImageLookup> {
  const catalog = await loadCatalog(catalogDir);
  const infos = new Map<string, ImageInfo>();
  for (const [name, manifest] of catalog.manifests) {
    let unavailable: string | undefined;
    if (manifest.source.kind === 'build') {
      const built = await findBuilt(manifest, catalogDir ? { catalogDir } : {});
      if (!built) unavailable = `image ${name} is not built here (run: npx cloudprobe images build ${name})`;
    } else {
      unavailable = await urlImageUnavailable(name);
    }
    infos.set(name, { manifest, ...(unavailable ? { unavailable } : {}) });
  }
  return (name) => infos.get(name);
}

async function urlImageUnavailable(name: string): Promise<string | undefined> {
  return `image ${name} is not cached here (run: npx cloudprobe images fetch ${name})`;
}
