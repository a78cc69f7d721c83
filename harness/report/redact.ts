/**
 * Secrets (the run's password, admin_pass) must never reach a report or a log. Every string is
 * scrubbed before rendering, so escaping (XML, HTML) cannot hide a secret from the scrubber.
 */

export const REDACTED = '[redacted]';

/** Secrets shorter than this are not scrubbed: replacing "1" everywhere would wreck the report. */
const MIN_SECRET_LENGTH = 3;

export function usableSecrets(secrets: Iterable<string>): string[] {
  // Longest first, so a secret that contains another is replaced whole.
  return [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

export function redactText(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join(REDACTED);
  return out;
}

/** A deep copy of `value` with every string (and object key) scrubbed. */
export function redactDeep<T>(value: T, secrets: string[]): T {
  if (secrets.length === 0) return value;
  if (typeof value === 'string') return redactText(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, secrets)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redactText(k, secrets), redactDeep(v, secrets)])) as T;
  }
  return value;
}
