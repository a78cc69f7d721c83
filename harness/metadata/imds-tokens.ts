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

/** Tokens of one instance: a token is valid only for the instance it was issued to. */
export class TokenStore {
  private readonly tokens = new Map<string, number>();
  constructor(private readonly now: () => number = Date.now) {}

  issue(ttlSeconds: number): string {
    this.prune();
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, this.now() + ttlSeconds * 1000);
    return token;
  }

  valid(token: string | string[] | undefined): boolean {
    if (typeof token !== 'string') return false;
    const expires = this.tokens.get(token);
    return expires !== undefined && expires > this.now();
  }

  private prune(): void {
    const now = this.now();
    for (const [t, exp] of this.tokens) if (exp <= now) this.tokens.delete(t);
  }
}
