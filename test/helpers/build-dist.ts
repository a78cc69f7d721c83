import { buildDist } from '../../scripts/build.ts';

/**
 * Global setup of the integration tier, whose tests run the CLI as users do (bin/cloudprobe.js →
 * dist/): build dist/ from the sources under test first, once per run, so that neither a stale
 * nor a missing dist/ decides a test.
 */
export default async function setup(): Promise<void> {
  await buildDist();
}
