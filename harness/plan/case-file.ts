import { readdir, stat } from 'node:fs/promises';
import { readInputFile } from '../util/input-file.ts';
import { basename, extname, join, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { formatLocation, UserError } from '../util/errors.ts';
import { parseYaml } from '../util/yaml-file.ts';
import { caseFileSchema, type CaseFile } from './case-schema.ts';

/** A validated case file, with a way to point later (planning) errors at a field's line. */
export interface LoadedCase {
  file: string;
  name: string;
  spec: CaseFile;
  /** `file:line:col` of the node at `path` (or of its nearest existing parent). */
  locate(path: (string | number)[]): string;
}

export function parseCase(text: string, file: string): LoadedCase {
  const spec = parseYaml(text, file, caseFileSchema);
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  return {
    file,
    name: spec.name ?? basename(file, extname(file)),
    spec,
    locate(path) {
      for (let depth = path.length; depth >= 0; depth--) {
        const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
        const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
        if (range) {
          const pos = counter.linePos(range[0]);
          return formatLocation({ file, line: pos.line, col: pos.col });
        }
      }
      return file;
    },
  };
}

export async function loadCase(file: string): Promise<LoadedCase> {
  let text: string;
  try {
    text = await readInputFile(file);
  } catch (err) {
    throw new UserError(`${file}: cannot read: ${(err as Error).message}`);
  }
  return parseCase(text, file);
}

const isCaseFile = (f: string) => f.endsWith('.yaml') || f.endsWith('.yml');

/** Case files named on the command line: files as given, directories searched recursively, sorted. */
export async function findCaseFiles(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  async function walk(dir: string): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && isCaseFile(e.name)) found.push(p);
    }
  }
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch {
      throw new UserError(`${p}: no such case file or directory`);
    }
    if (st.isDirectory()) await walk(p);
    else found.push(p);
  }
  const unique = [...new Set(found.map((f) => resolve(f)))];
  if (unique.length === 0) throw new UserError(`no case files (*.yaml) in ${paths.join(', ')}`);
  return unique;
}

/** Loads every case; all broken files are reported together, and two cases may not share a name. */
export async function loadCases(paths: string[]): Promise<LoadedCase[]> {
  const files = await findCaseFiles(paths);
  const cases: LoadedCase[] = [];
  const problems: string[] = [];
  for (const f of files) {
    try {
      cases.push(await loadCase(f));
    } catch (err) {
      if (err instanceof UserError) problems.push(err.message);
      else throw err;
    }
  }
  const byName = new Map<string, LoadedCase>();
  for (const c of cases) {
    const other = byName.get(c.name);
    if (other) problems.push(`${c.locate(['name'])}: case name "${c.name}" is also used by ${other.file}`);
    byName.set(c.name, c);
  }
  if (problems.length > 0) throw new UserError(problems.join('\n'));
  return cases;
}
