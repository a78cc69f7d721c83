import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReports } from '../../harness/report/write.ts';
import { MIN_SECRET_LENGTH, REDACTED, redactDeep, redactText, usableSecrets } from '../../harness/util/redact.ts';
import { ArtifactWriter } from '../../harness/vm/artifacts.ts';
import { ADMIN_PASS, fixtureReport, SECRET } from '../helpers/report-fixture.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudprobe-redact-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('usableSecrets and redactText', () => {
  it('replaces the longest secret first, so one that contains another goes whole', () => {
    const list = usableSecrets(['pass', 'password123']);
    expect(list).toEqual(['password123', 'pass']);
    expect(redactText('a password123 b pass c', list)).toBe(`a ${REDACTED} b ${REDACTED} c`);
    // Shortest first would have left "word123" behind.
    expect(redactText('password123', ['pass', 'password123'])).toBe(`${REDACTED}word123`);
  });

  it('does not scrub secrets shorter than MIN_SECRET_LENGTH', () => {
    expect(MIN_SECRET_LENGTH).toBe(3);
    expect(usableSecrets(['1', 'ab', 'abc'])).toEqual(['abc']);
    expect(redactText('1 ab abc 10.0.2.1', usableSecrets(['1', 'ab', 'abc']))).toBe(`1 ab ${REDACTED} 10.0.2.1`);
  });

  it('deduplicates, and adds the JSON-escaped form of a secret that needs escaping', () => {
    expect(usableSecrets(['abcd', 'abcd'])).toEqual(['abcd']);
    expect(usableSecrets(['a"bc'])).toEqual(['a\\"bc', 'a"bc']);
    const line = JSON.stringify({ password: 'a"bc' });
    expect(redactText(line, usableSecrets(['a"bc']))).toBe(`{"password":"${REDACTED}"}`);
  });
});

describe('redactDeep', () => {
  it('scrubs strings at any depth, and object keys, and leaves other values alone', () => {
    const secrets = usableSecrets([SECRET]);
    const value = { [`key-${SECRET}`]: [{ note: `pw ${SECRET}` }, 3, null, true], n: 1 };
    expect(redactDeep(value, secrets)).toEqual({ [`key-${REDACTED}`]: [{ note: `pw ${REDACTED}` }, 3, null, true], n: 1 });
    // A copy: the input is untouched.
    expect(value.n).toBe(1);
    expect(Object.keys(value)[0]).toBe(`key-${SECRET}`);
  });
});

describe('one scrubber for artifacts and reports', () => {
  it('ArtifactWriter writes the same results.json as the report writer, for secrets that need escaping too', async () => {
    const report = fixtureReport(join(dir, 'artifacts'));
    const secrets = [SECRET, ADMIN_PASS, '1'];
    const paths = await writeReports(report, join(dir, 'report'), secrets);
    const fromReport = await readFile(paths.json, 'utf8');

    const artifacts = new ArtifactWriter(join(dir, 'artifact-dir'), secrets);
    await artifacts.write('results', 'results.json', `${JSON.stringify(report, null, 2)}\n`);
    const fromArtifacts = await readFile(join(dir, 'artifact-dir', 'results.json'), 'utf8');

    expect(fromArtifacts).toBe(fromReport);
    expect(fromReport).toContain(REDACTED);
    expect(fromReport).not.toContain(SECRET);
    expect(fromReport).not.toContain(JSON.stringify(ADMIN_PASS).slice(1, -1));
    expect(artifacts.redact(`console: ${ADMIN_PASS} ${SECRET}`)).toBe(redactText(`console: ${ADMIN_PASS} ${SECRET}`, usableSecrets(secrets)));
  });
});
