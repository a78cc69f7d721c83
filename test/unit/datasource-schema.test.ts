import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonSchemaOf, registerSchema } from '../../harness/cli/schema-command.ts';
import { instanceFileSchema } from '../../harness/model/instance.ts';

describe('schema registry', () => {
  it('has the instance schema, input side (fields with defaults are optional)', () => {
    const s = jsonSchemaOf('instance') as { required: string[]; properties: Record<string, { default?: unknown }> };
    expect(s.required).toEqual(['name']);
    expect(s.properties.project_id?.default).toBe('cloudprobe');
    expect(Object.keys(s.properties).sort()).toEqual(Object.keys(instanceFileSchema.shape).sort());
  });

  it('serves formats other modules register', () => {
    registerSchema('example', z.object({ n: z.number().int() }).strict(), 'an example');
    expect(jsonSchemaOf('example')).toMatchObject({ type: 'object', properties: { n: { type: 'integer' } }, additionalProperties: false });
    expect(() => jsonSchemaOf('missing')).toThrow(/unknown schema "missing"; known: example, instance/);
  });
});
