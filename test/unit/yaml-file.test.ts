import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseYaml, YamlValidationError } from '../../harness/util/yaml-file.ts';

const schema = z.object({
  name: z.string(),
  nics: z.array(z.object({ mac: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/), mtu: z.number().int().optional() })),
}).strict();

function issuesOf(text: string) {
  try {
    parseYaml(text, 'case.yaml', schema);
  } catch (err) {
    expect(err).toBeInstanceOf(YamlValidationError);
    return (err as YamlValidationError).issues;
  }
  throw new Error('expected a validation error');
}

describe('parseYaml', () => {
  it('returns the validated value', () => {
    expect(parseYaml('name: a\nnics: [{mac: "52:54:00:00:00:01"}]\n', 'x.yaml', schema)).toEqual({
      name: 'a',
      nics: [{ mac: '52:54:00:00:00:01' }],
    });
  });

  it('names file, line, column and field of a bad value', () => {
    const issues = issuesOf('name: a\nnics:\n  - mac: "52:54:00:00:00:01"\n  - mac: nope\n');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: 'case.yaml', line: 4, col: 10, field: 'nics[1].mac' });
    expect(String(new YamlValidationError(issues).message)).toMatch(/^case\.yaml:4:10: nics\[1\]\.mac: /);
  });

  it('points a missing key at its parent mapping', () => {
    const issues = issuesOf('nics:\n  - mtu: 1500\n');
    const fields = issues.map((i) => i.field).sort();
    expect(fields).toEqual(['name', 'nics[0].mac']);
    expect(issues.find((i) => i.field === 'nics[0].mac')).toMatchObject({ line: 2, col: 5 });
  });

  it('reports unknown keys and YAML syntax errors with positions', () => {
    expect(issuesOf('name: a\nnics: []\nextra: 1\n')[0]).toMatchObject({ line: 1, col: 1 });
    const syntax = issuesOf('name: a\nnics: [\n');
    expect(syntax[0]?.file).toBe('case.yaml');
    expect(syntax[0]?.line).toBeGreaterThanOrEqual(2);
  });

  it('rejects duplicate keys', () => {
    expect(issuesOf('name: a\nname: b\nnics: []\n')[0]?.line).toBe(2);
  });
});
