/**
 * Kept so report/ and its importers need not change: the scrubber itself lives in util/redact.ts,
 * shared with vm/artifacts.ts (vm/ must not import report/).
 */
export { MIN_SECRET_LENGTH, REDACTED, redactDeep, redactText, usableSecrets } from '../util/redact.ts';
