import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { loadCases, parseCase } from '../../harness/plan/case-file.ts';
import { caseJsonSchema, substitutePlaceholders } from '../../harness/plan/case-schema.ts';
import { YamlValidationError } from '../../harness/util/yaml-file.ts';

const GOOD = `name: demo
images: [img-a]
datasources: [configdrive-iso9660, { kind: metadata-ec2, imdsv2: required }]
networks: [dhcp, static]
exclude:
  - { datasource: metadata-ec2-imdsv2-required, network: static }
instance:
  name: demo
  user_data: |
    #cloud-config
    password: \${PASSWORD}
expect:
  hostname: demo
`;

function issuesOf(text: string) {
  try {
    parseCase(text, 'cases/broken.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(YamlValidationError);
    return { issues: (err as YamlValidationError).issues, message: (err as Error).message };
  }
  throw new Error('expected the case to be refused');
}

describe('case files', () => {
  it('parses a good case and names it after its name field', () => {
    const c = parseCase(GOOD, 'cases/x.yaml');
    expect(c.name).toBe('demo');
    expect(c.spec.datasources[1]).toEqual({ kind: 'metadata-ec2', imdsv2: 'required' });
    expect(c.spec.expect.clean_boot).toEqual({ allowed_recoverable: [], deprecations: 'warn' });
    expect(c.locate(['networks', 1])).toBe('cases/x.yaml:4:18');
  });

  it('defaults the name to the file name', () => {
    expect(parseCase(GOOD.replace('name: demo\n', ''), 'cases/seed.yaml').name).toBe('seed');
  });

  it('names file, line, column and field of a bad datasource', () => {
    const { issues, message } = issuesOf(GOOD.replace('configdrive-iso9660', 'configdrive-udf'));
    expect(issues[0]).toMatchObject({ file: 'cases/broken.yaml', line: 3, col: 15, field: 'datasources[0]' });
    expect(message).toMatch(/^cases\/broken\.yaml:3:15: datasources\[0\]: /);
  });

  it('refuses an exclude naming a value on no axis (a typo would exclude nothing)', () => {
    const { issues } = issuesOf(GOOD.replace('network: static }', 'network: dhcp }').replace('metadata-ec2-imdsv2-required,', 'metadata-ec2,'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 6, field: 'exclude[0].datasource' });
    expect(issues[0]!.message).toContain('metadata-ec2-imdsv2-required');
  });

  it('refuses an unknown network mode with its position', () => {
    const { issues } = issuesOf(GOOD.replace('networks: [dhcp, static]', 'networks: [dhcp, staticc]'));
    expect(issues.find((i) => i.field === 'networks[1]')).toMatchObject({ line: 4, col: 18 });
  });

  it('refuses an unknown placeholder in the instance, pointing at the string', () => {
    const { issues } = issuesOf(GOOD.replace('${PASSWORD}', '${PASSWD}'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 9, field: 'instance.user_data' });
    expect(issues[0]!.message).toMatch(/unknown placeholder \$\{PASSWD\}/);
  });

  it('says what a datasource that matches no form is wrong in, not just "Invalid input"', () => {
    const obj = issuesOf(GOOD.replace('{ kind: metadata-ec2, imdsv2: required }', '{ kind: metadata-nova, imdsv2: required }'));
    expect(obj.issues.map((i) => [i.field, i.message])).toEqual([['datasources[1].kind', 'Invalid input: expected "metadata-ec2"']]);
    const str = issuesOf(GOOD.replace('[configdrive-iso9660,', '[configdrive-iso9661,'));
    expect(str.issues).toHaveLength(1);
    expect(str.issues[0]!.field).toBe('datasources[0]');
    expect(str.issues[0]!.message).toContain('configdrive-iso9660');
    expect(str.message).not.toContain('Invalid input\n');
  });

  it('refuses a YAML alias bomb with a located error, not a crash', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]', ''].join('\n');
    const { issues } = issuesOf(bomb);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 2, col: 8 });
    expect(issues[0]!.message).toMatch(/alias count .*refused/);
  });

  it('refuses an unclosed placeholder and one in a key, pointing at them', () => {
    const open = issuesOf(GOOD.replace('${PASSWORD}', '${PASSWORD'));
    expect(open.issues).toHaveLength(1);
    expect(open.issues[0]).toMatchObject({ line: 9, field: 'instance.user_data' });
    expect(open.issues[0]!.message).toBe('${PASSWORD is not closed: write ${PASSWORD}');
    const key = issuesOf(GOOD.replace('  name: demo\n', '  name: demo\n  meta: { "${DEFAULT_USER}": x }\n'));
    expect(key.issues.map((i) => [i.field, i.message])).toEqual([['instance.meta.${DEFAULT_USER}', 'placeholders are filled in values only, not in keys ("${DEFAULT_USER}")']]);
  });

  it('refuses user data nova would refuse (over 65535 characters once base64-encoded), with its position', () => {
    const big = 'x'.repeat(50_000);
    const { issues } = issuesOf(GOOD.replace('  user_data: |\n', `  user_data: |\n    # ${big}\n`));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 9, field: 'instance.user_data' });
    expect(issues[0]!.message).toMatch(/^\d+ bytes is more than nova accepts \(65535 characters once base64-encoded, about 48 KiB\)$/);
  });

  it('refuses NICs and a uuid in the instance (the planner owns both)', () => {
    const { issues } = issuesOf(GOOD.replace('  name: demo\n  user_data', '  name: demo\n  uuid: 7d0f3b4e-58c3-4b35-9a9e-0c6d9a5b2f10\n  nics: [{ mac: "52:54:00:00:00:09" }]\n  user_data'));
    expect(issues.map((i) => i.field).sort()).toEqual(['instance.nics', 'instance.uuid']);
  });

  it('refuses an unknown top-level key and a wrong type in expect', () => {
    const { issues } = issuesOf(`${GOOD}  timezone: 5\nextra: 1\n`);
    expect(issues.map((i) => `${i.field}@${i.line}`).sort()).toEqual(['@1', 'expect.timezone@14']);
  });

  it('reports a YAML syntax error with its position', () => {
    const { issues } = issuesOf('name: x\nimages: [a\n');
    expect(issues[0]).toMatchObject({ file: 'cases/broken.yaml', line: 3 });
  });

  it('substitutes placeholders in nested strings only', () => {
    const out = substitutePlaceholders({ a: ['k ${SSH_PUBLIC_KEY}', 3], b: { c: '${PASSWORD}${PASSWORD}' } }, { SSH_PUBLIC_KEY: 'ssh-ed25519 AAA', PASSWORD: 'pw', DEFAULT_USER: 'u' });
    expect(out).toEqual({ a: ['k ssh-ed25519 AAA', 3], b: { c: 'pwpw' } });
  });

  it('every shipped case in cases/ is valid', async () => {
    const cases = await loadCases(['cases']);
    expect(cases.map((c) => c.name).sort()).toEqual(['cirros', 'ec2', 'multi-nic', 'neutron', 'seed-article', 'seed-verbatim', 'ubuntu']);
  });

  it('cases/case.schema.json is the current JSON Schema (regenerate: npx cloudprobe schema case > cases/case.schema.json)', async () => {
    const committed = JSON.parse(await readFile('cases/case.schema.json', 'utf8')) as Record<string, unknown>;
    expect(committed).toEqual(JSON.parse(JSON.stringify(caseJsonSchema())));
    expect(committed.type).toBe('object');
    expect(Object.keys(committed.properties as object)).toEqual(expect.arrayContaining(['images', 'datasources', 'networks', 'exclude', 'instance', 'expect']));
  });
});
