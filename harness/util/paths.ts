import { homedir } from 'node:os';
import { join } from 'node:path';

/** Root of everything cloudprobe caches between runs: `$CLOUDPROBE_CACHE`, else `$XDG_CACHE_HOME/cloudprobe`. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CLOUDPROBE_CACHE) return env.CLOUDPROBE_CACHE;
  const xdg = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(xdg, 'cloudprobe');
}

/** Directory of downloaded and built images: `$CLOUDPROBE_IMAGE_CACHE`, else `<cacheRoot>/images`. */
export function imageCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.CLOUDPROBE_IMAGE_CACHE || join(cacheRoot(env), 'images');
}
