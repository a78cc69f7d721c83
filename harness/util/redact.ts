/**
 * The one secret scrubber. Secrets (the run's password, admin_pass) must never reach a report, a
 * log or an artifact: the report writer, the artifact writer and everything that prints a result
 * line go through these functions, so they all agree on what is scrubbed and how.
 */

export const REDACTED = '[redacted]';

/**
 * Secrets shorter than this are not scrubbed: replacing "1" (the seed article's password)
 * everywhere would wreck every log and report.
 */
export const MIN_SECRET_LENGTH = 3;

/**
 * The strings to scrub: each secret long enough, plus its JSON-escaped form where that differs
 * (`a"b` is `a\"b` inside metadata-requests.jsonl, verdicts.json or a guest's JSON output), so
 * scrubbing JSON text gives the same result as scrubbing the values before serialising them.
 * Deduplicated, longest first.
 */
export function usableSecrets(secrets: Iterable<string>): string[] {
  const all = new Set<string>();
  for (const s of secrets) {
    if (s.length < MIN_SECRET_LENGTH) continue;
    all.add(s);
    all.add(JSON.stringify(s).slice(1, -1));
  }
  // Longest first, so a secret that contains another is replaced whole rather than leaving its rest.
  return [...all].sort((a, b) => b.length - a.length);
}

/** `text` with every occurrence of each secret replaced; `secrets` as usableSecrets returns them. */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join(REDACTED);
  return out;
}

/** A deep copy of `value` with every string (and object key) scrubbed. */
export function redactDeep<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  if (typeof value === 'string') return redactText(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v, secrets)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redactText(k, secrets), redactDeep(v, secrets)])) as T;
  }
  return value;
}
