import { digest, parseSecret } from '../auth/credentials.js';
import type { Clock } from '../clock.js';
import type { ReadNow } from '../db/database.js';
import type { Db } from '../db/schema.js';
import type { UsageBuffer } from '../usage/buffer.js';
import type { CachedToken, TokenCache, VerifiedToken } from './cache.js';
import { createTokenLookup } from './lookup.js';
import type { TokenRateLimiter, TokenRateState } from './rate.js';
import { tokenStatus } from './status.js';
import type { TokenUses } from './uses.js';

export type VerifyCode =
  | 'VALID'
  | 'NOT_FOUND'
  | 'EXPIRED'
  | 'REVOKED'
  | 'INSUFFICIENT_SCOPE'
  | 'RATE_LIMITED'
  | 'USAGE_EXCEEDED';

export interface VerifyResult {
  valid: boolean;
  code: VerifyCode;
  token?: Readonly<VerifiedToken>;
  /**
   * When VALID: the earliest instant this exact secret stops being valid without any further
   * change (the token's expiry, or the end of the rotation grace of a retiring secret); else null.
   */
  valid_until: string | null;
  /** Uses left: only for a token with a uses limit. */
  remaining?: number;
  /** Only for a token with its own rate limit. */
  ratelimit?: TokenRateState;
}

/**
 * The answer's JSON: every result is built above with exactly the documented fields, in the order
 * the response schema's serializer writes them (a test holds the two byte-equal), so the native
 * `JSON.stringify` is used instead of the schema's serializer, which checks each `anyOf` branch
 * (the code, three nullable fields) with a validator on every answer.
 */
export const serializeVerifyResult = (result: VerifyResult): string => JSON.stringify(result);

/** Counts an answered verification by its code (for /metrics): a plain increment, no allocation. */
export type VerifyResultRecorder = (code: VerifyCode) => void;

export interface VerifyInput {
  workspaceId: string;
  presented: string;
  scopes: readonly string[];
  rateLimited: boolean;
}

export interface Verifier {
  /** The token behind a presented secret if it is one of ours and not retired by rotation. */
  find(presented: string): Promise<CachedToken | null>;
  verify(input: VerifyInput): Promise<VerifyResult>;
}

/** The earliest of the token's expiry and the end of this secret's rotation grace, if any. */
function validUntil(token: CachedToken): string | null {
  const { expiresAt, retiresAt } = token;
  // Most secrets are current: their answer's expiry, already written out, is the instant.
  if (retiresAt === null) return token.view.expires_at;
  return new Date(expiresAt === null ? retiresAt : Math.min(expiresAt, retiresAt)).toISOString();
}

/**
 * The hot path (docs/tokens.md#verify): checksum first (a bad one never reaches the cache or the database),
 * SHA-256, cache, and no synchronous write: a success only notes the use in the usage buffer.
 */
export function createVerifier({
  db,
  readNow = null,
  clock,
  cache,
  usage,
  limits,
  onResult = () => {},
}: {
  db: Db;
  /** Reads at once where the database allows it (SQLite's free connection), else null. */
  readNow?: ReadNow | null;
  clock: Clock;
  cache: TokenCache;
  usage: UsageBuffer;
  /** A token's own limits (docs/tokens.md#limits): its rate windows, and its budget of uses. */
  limits: { rate: TokenRateLimiter; uses: TokenUses };
  onResult?: VerifyResultRecorder;
}): Verifier {
  const answer = (result: VerifyResult): VerifyResult => {
    onResult(result.code);
    return result;
  };
  const lookupToken = createTokenLookup(db, cache, readNow);
  /** A secret retired by rotation is no longer the token's. */
  const usable = (token: CachedToken | null): CachedToken | null =>
    token === null || (token.retiresAt !== null && token.retiresAt <= clock()) ? null : token;
  /**
   * The token behind a presented secret: at once from the cache (most verifications: no promise
   * on that path), else through the one indexed read.
   */
  const locate = (presented: string): CachedToken | null | Promise<CachedToken | null> => {
    if (parseSecret(presented) !== 'token') return null;
    const secretDigest = digest(presented);
    const cached = cache.get(secretDigest);
    if (cached !== undefined) return usable(cached);
    const read = lookupToken(secretDigest);
    return read instanceof Promise ? read.then(usable) : usable(read);
  };
  const rateOf = (token: CachedToken): TokenRateState | undefined =>
    token.rate === null ? undefined : limits.rate.peek(token.id, token.rate.limit, token.rate.windowSeconds);

  /** The answer for a located token; a promise only when its budget of uses must be read or taken. */
  const decide = (
    token: CachedToken | null,
    { workspaceId, scopes, rateLimited }: VerifyInput,
  ): VerifyResult | Promise<VerifyResult> => {
    if (token === null || token.workspaceId !== workspaceId)
      return answer({ valid: false, code: 'NOT_FOUND', valid_until: null });
    const now = clock();
    const body = token.view;
    // A token with limits of its own says so in every answer (`remaining`, `ratelimit`), so an
    // in-process verifier knows never to cache it; the budget is read from the database each time.
    const refused = (code: VerifyCode, ratelimit = rateOf(token)): VerifyResult | Promise<VerifyResult> => {
      const result: VerifyResult = { valid: false, code, valid_until: null, token: body };
      const finish = () => {
        if (ratelimit !== undefined) result.ratelimit = ratelimit;
        return answer(result);
      };
      if (!token.usesLimited) return finish();
      return limits.uses.left(token.id).then((left) => {
        result.remaining = left;
        return finish();
      });
    };
    const status = tokenStatus(token, now);
    if (status === 'revoked') return refused('REVOKED');
    if (status === 'expired') return refused('EXPIRED');
    const own =
      token.rate === null ? null : limits.rate.hit(token.id, token.rate.limit, token.rate.windowSeconds);
    const ratelimit = own?.state;
    if (rateLimited || own?.allowed === false) return refused('RATE_LIMITED', ratelimit);
    if (!scopes.every((scope) => token.scopes.includes(scope)))
      return refused('INSUFFICIENT_SCOPE', ratelimit);
    const valid = (remaining: number | undefined): VerifyResult => {
      const result: VerifyResult = {
        valid: true,
        code: 'VALID',
        valid_until: validUntil(token),
        token: body,
      };
      if (remaining !== undefined) result.remaining = remaining;
      if (ratelimit !== undefined) result.ratelimit = ratelimit;
      usage.tokenUsed(token.id, now);
      return answer(result);
    };
    if (!token.usesLimited) return valid(undefined);
    return limits.uses
      .take(token.id)
      .then((left) => (left === null ? refused('USAGE_EXCEEDED', ratelimit) : valid(left)));
  };

  return {
    async find(presented) {
      return locate(presented);
    },
    verify(input) {
      try {
        const located = locate(input.presented);
        if (located instanceof Promise) return located.then((token) => decide(token, input));
        return Promise.resolve(decide(located, input));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}
