import { randomBytes } from 'node:crypto';

/** IMDSv2 session tokens (EC2 only; nova has none): `PUT /latest/api/token`, TTL 1–21600 s. */
export const TOKEN_TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
export const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
export const MIN_TTL_S = 1;
export const MAX_TTL_S = 21600;

/** The TTL header's value in seconds, or undefined when missing, not an integer or out of range. */
export function parseTtl(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,6}$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return n >= MIN_TTL_S && n <= MAX_TTL_S ? n : undefined;
}

/** Live tokens kept per instance; issuing one more retires the oldest (a guest needs one or two). */
export const MAX_TOKENS = 1000;
/** How often expired tokens are swept when nobody asks for a new one. */
const PRUNE_EVERY_MS = 60_000;

/**
 * Tokens of one instance: a token is valid only for the instance it was issued to. Memory stays
 * bounded in a long-lived service: expired tokens are swept on a timer (and on every issue), and
 * at most MAX_TOKENS live at once.
 */
export class TokenStore {
  private readonly tokens = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxTokens = MAX_TOKENS,
  ) {
    this.timer = setInterval(() => this.prune(), PRUNE_EVERY_MS);
    this.timer.unref();
  }

  /** Stops the sweep timer (the instance is no longer served). */
  close(): void {
    clearInterval(this.timer);
    this.tokens.clear();
  }

  get size(): number {
    return this.tokens.size;
  }

  issue(ttlSeconds: number): string {
    this.prune();
    // Map order is issue order: the first key is the oldest token.
    while (this.tokens.size >= this.maxTokens) this.tokens.delete(this.tokens.keys().next().value!);
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, this.now() + ttlSeconds * 1000);
    return token;
  }

  valid(token: string | string[] | undefined): boolean {
    if (typeof token !== 'string') return false;
    const expires = this.tokens.get(token);
    return expires !== undefined && expires > this.now();
  }

  prune(): void {
    const now = this.now();
    for (const [t, exp] of this.tokens) if (exp <= now) this.tokens.delete(t);
  }
}
