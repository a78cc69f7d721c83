/**
 * JSON exactly as Python's `json.dumps(obj)` writes it (what nova's `jsonutils.dump_as_bytes`
 * produces): `", "` and `": "` separators, keys in insertion order, non-ASCII escaped as `\uXXXX`.
 * Byte-for-byte fidelity matters because guests (and our tests) see the raw files.
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot serialise ${value} as JSON`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${quote(k)}: ${pythonJsonDumps(v)}`).join(', ')}}`;
  }
  throw new Error(`cannot serialise a ${typeof value} as JSON`);
}

function quote(s: string): string {
  // JSON.stringify already escapes quotes, backslashes and control characters the way Python does
  // (\n, \t, \u001f…); Python additionally escapes everything beyond ASCII (ensure_ascii=True).
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
