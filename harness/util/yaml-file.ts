import { readInputFile } from './input-file.ts';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { formatLocation, UserError, type SourceLocation } from './errors.ts';

/** One problem in a YAML file, located at the node the schema complained about. */
export interface YamlIssue extends SourceLocation {
  field: string;
  message: string;
}

/** Thrown when a YAML file does not parse or does not match its schema; lists every issue. */
export class YamlValidationError extends UserError {
  override name = 'YamlValidationError';
  constructor(readonly issues: YamlIssue[]) {
    super(issues.map((i) => `${formatLocation(i)}: ${i.field ? `${i.field}: ` : ''}${i.message}`).join('\n'));
  }
}

function fieldName(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
}

/** Position of the deepest node that exists along `path` (a missing key points at its parent). */
function locate(doc: Document, counter: LineCounter, path: ReadonlyArray<PropertyKey>): { line: number; col: number } | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const keys = path.slice(0, depth) as (string | number)[];
    const node = depth === 0 ? doc.contents : doc.getIn(keys, true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range) {
      const pos = counter.linePos(range[0]);
      return { line: pos.line, col: pos.col };
    }
  }
  return undefined;
}

type Issue = z.core.$ZodIssue;

/**
 * A union that matched no branch says only "Invalid input". Report instead what the branch the
 * value came closest to says: the one whose complaints go deepest into the value (an object that
 * is almost a network layout names its bad field), and among equally deep ones a wrong value over
 * a wrong type (a misspelt name lists the names it could be).
 */
function closestBranch(issue: Issue): Issue[] {
  if (issue.code !== 'invalid_union' || !issue.errors?.length) return [issue];
  const depth = (branch: Issue[]) => Math.max(...branch.map((i) => i.path.length));
  const rank = (branch: Issue[]) => depth(branch) * 10 + (branch.some((i) => i.code === 'invalid_value') ? 1 : 0) - (branch.every((i) => i.code === 'invalid_type') ? 1 : 0);
  const best = [...issue.errors].sort((a, b) => rank(b) - rank(a))[0]!;
  return best.map((i) => ({ ...i, path: [...issue.path, ...i.path] })).flatMap(closestBranch);
}

/** Parses YAML text and validates it with `schema`; errors name file, line, column and field. */
export function parseYaml<S extends z.ZodType>(text: string, file: string, schema: S): z.output<S> {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new YamlValidationError(
      doc.errors.map((e) => {
        const pos = counter.linePos(e.pos[0]);
        return { file, line: pos.line, col: pos.col, field: '', message: e.message.split('\n')[0] ?? e.message };
      }),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // yaml's alias guard ("Excessive alias count …") and the like: a refusal, not a crash.
    const firstAlias = /\*[A-Za-z0-9_-]+/.exec(text);
    const pos = counter.linePos(firstAlias?.index ?? 0);
    throw new YamlValidationError([{ file, line: pos.line, col: pos.col, field: '', message: `${(err as Error).message} (more than 100 alias expansions: refused)` }]);
  }
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  throw new YamlValidationError(
    result.error.issues.flatMap(closestBranch).map((issue) => ({
      file,
      ...locate(doc, counter, issue.path),
      field: fieldName(issue.path),
      message: issue.message,
    })),
  );
}

/** Reads and validates a YAML file; a missing file is a UserError naming it. */
export async function loadYamlFile<S extends z.ZodType>(file: string, schema: S): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readInputFile(file);
  } catch (err) {
    throw new UserError(`${file}: cannot read: ${(err as Error).message}`);
  }
  return parseYaml(text, file, schema);
}
