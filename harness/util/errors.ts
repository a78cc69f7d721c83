/** An error caused by what the user gave us (a file, a flag): printed without a stack trace. */
export class UserError extends Error {
  override name = 'UserError';
}

/** Where in a user's file something is wrong. Lines and columns are 1-based. */
export interface SourceLocation {
  file: string;
  line?: number;
  col?: number;
}

export function formatLocation(loc: SourceLocation): string {
  if (loc.line === undefined) return loc.file;
  return loc.col === undefined ? `${loc.file}:${loc.line}` : `${loc.file}:${loc.line}:${loc.col}`;
}
