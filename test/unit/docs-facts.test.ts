import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The code cites docs/facts.md by section (`docs/facts.md §4`). Every citation must name a section
 * that exists, and nothing may cite the old document outside the repository.
 */

const ROOTS = ['harness', 'images', 'bench', 'test', 'cases', 'bin', 'docs', 'README.md', 'Makefile'];
const TEXT = /\.(ts|js|md|ya?ml|sh|py|json)$|^Makefile$/;

async function textFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const root of ROOTS) {
    let entries: string[];
    try {
      entries = (await readdir(root, { recursive: true })).map((e) => join(root, e));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') entries = [root];
      else if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      else throw err;
    }
    out.push(...entries.filter((p) => TEXT.test(p.split('/').pop() ?? '') && !p.includes('node_modules')));
  }
  return out;
}

describe('docs/facts.md citations', () => {
  it('every cited section exists, and the outside reference is cited nowhere', async () => {
    const facts = await readFile('docs/facts.md', 'utf8');
    const sections = new Set([...facts.matchAll(/^## §(\d+) /gm)].map((m) => m[1]));
    expect(sections.size).toBeGreaterThanOrEqual(8);
    // Built from parts so this file does not match itself.
    const outside = new RegExp(['refer', 'ence(\\.md|\\s+§)'].join(''), 'i');
    const cited: string[] = [];
    const problems: string[] = [];
    for (const file of await textFiles()) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        continue; // a directory whose name looks like a file
      }
      if (outside.test(text)) problems.push(`${file}: cites the outside reference`);
      for (const m of text.matchAll(/docs\/facts\.md §(\d+)/g)) {
        cited.push(`${file} §${m[1]}`);
        if (!sections.has(m[1])) problems.push(`${file}: cites docs/facts.md §${m[1]}, which does not exist`);
      }
    }
    expect(problems).toEqual([]);
    expect(cited.length).toBeGreaterThan(0);
  });
});
