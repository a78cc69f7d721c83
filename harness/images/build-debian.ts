import type { BuildContext, BuildOutputs } from './build-types.ts';
import type { DebianRecipe } from './recipe.ts';

export async function buildDebian(_ctx: BuildContext, _recipe: DebianRecipe): Promise<BuildOutputs> {
  throw new Error('not yet');
}
