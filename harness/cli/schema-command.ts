import type { Command } from 'commander';
import { z } from 'zod';
import { instanceFileSchema } from '../model/instance.ts';
import { UserError } from '../util/errors.ts';

/**
 * `cloudprobe schema <name>`: JSON Schema of a cloudprobe file format, for editors and CI linting.
 * Other modules add their formats with `registerSchema` (e.g. `case`) before the CLI parses.
 */
const schemas = new Map<string, { schema: z.ZodType; description: string }>();

export function registerSchema(name: string, schema: z.ZodType, description = `${name} file`): void {
  schemas.set(name, { schema, description });
}

registerSchema('instance', instanceFileSchema, 'instance file (cloudprobe drive build / metadata serve --instance)');

/** The JSON Schema of a registered format, as users write it (input side: defaults are optional). */
export function jsonSchemaOf(name: string): Record<string, unknown> {
  const entry = schemas.get(name);
  if (!entry) throw new UserError(`unknown schema "${name}"; known: ${[...schemas.keys()].sort().join(', ')}`);
  return z.toJSONSchema(entry.schema, { io: 'input' }) as Record<string, unknown>;
}

export function registerSchemaCommand(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of a cloudprobe file format')
    .argument('<name>', 'format name: instance (more are registered by other commands, see --help)')
    .addHelpText('after', () => `\nKnown formats:\n${[...schemas].map(([n, e]) => `  ${n.padEnd(10)} ${e.description}`).join('\n')}\n`)
    .action((name: string) => {
      process.stdout.write(`${JSON.stringify(jsonSchemaOf(name), null, 2)}\n`);
    });
}
