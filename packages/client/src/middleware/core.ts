import { TookenError, TookenUnavailableError, TookenUnreachableError } from '../errors.js';
import { parseBearer } from './bearer.js';
import {
  insufficientScope,
  invalidToken,
  missingCredential,
  rateLimited,
  unavailable,
  usageExceeded,
} from './refusals.js';
import type { Decision, Refusal, TookenMiddlewareOptions, TookenToken } from './types.js';

/**
 * The verify answer as the middleware reads it: the fields every server version sends, plus the
 * ones a newer one may add (`external_id`, `ratelimit`, the `USAGE_EXCEEDED` code).
 */
interface Answer {
  valid: boolean;
  code: string;
  token?: Omit<TookenToken, 'external_id'> & { external_id?: string | null };
  ratelimit?: { limit: number; remaining: number; reset: number };
}

const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * The verifier failed for a reason other than Tooken being unavailable: Tooken refused the
 * middleware's own credential (a wrong API key, workspace or scope name), or a bug. Thrown to the
 * framework's error handling, which answers 500. It carries no `status`, so no framework mistakes
 * Tooken's answer to the middleware (say 401 for a wrong API key) for the answer to the caller.
 */
export class TookenMiddlewareError extends Error {
  override readonly name = 'TookenMiddlewareError';
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
  }
}

/** The error to throw for a verifier failure that is not Tooken being unavailable. */
function misconfigured(error: unknown): TookenMiddlewareError {
  const detail =
    error instanceof TookenError
      ? `Tooken answered ${error.status} ${error.code}: ${error.message}`
      : `the verifier failed: ${error instanceof Error ? error.message : String(error)}`;
  return new TookenMiddlewareError(`Token verification failed (${detail})`, { cause: error });
}

/** Tooken cannot answer now: unreachable, unavailable, or a server-side failure. */
function isUnavailable(error: unknown): boolean {
  if (error instanceof TookenUnavailableError || error instanceof TookenUnreachableError) return true;
  return error instanceof TookenError && (error.status >= 500 || error.status === 429);
}

/** Only the documented fields of the token, whatever else the answer carries. */
const tokenOf = (token: NonNullable<Answer['token']>): TookenToken => ({
  id: token.id,
  name: token.name,
  scopes: token.scopes,
  metadata: token.metadata,
  external_id: token.external_id ?? null,
  expires_at: token.expires_at,
});

/** What checking a request gives: the token to attach, or the refusal to send. */
export type Outcome = TookenToken | Refusal;

/** Whether an outcome is a refusal (a token has no `status`). */
export const isRefusal = (outcome: Outcome): outcome is Refusal => 'status' in outcome;

/**
 * The check one middleware makes of every request, set up once from its options: reads the bearer
 * secret from the `Authorization` header, asks the verifier, and maps its answer to the token or
 * to a refusal. A failure other than Tooken being unavailable (a misconfigured API key, a bug)
 * throws `TookenMiddlewareError`.
 */
export interface Gate {
  /**
   * The outcome at once, when no wait is needed: no or a malformed credential, or an answer the
   * verifier gave at once (`verifyLocally`, e.g. a cache hit). `undefined` when the verifier must
   * be asked: then `decide` gives the same outcome as if this had not been called.
   */
  atOnce(authorization: string | readonly string[] | null | undefined): Outcome | undefined;
  /** The outcome, asking the verifier when needed. */
  decide(authorization: string | readonly string[] | null | undefined): Promise<Outcome>;
}

export function createGate(options: TookenMiddlewareOptions): Gate {
  const { realm, verifier } = options;
  const scopes = options.scopes ?? [];
  // One options object for every request (the verifiers only read it).
  const asked = scopes.length > 0 ? { scopes } : undefined;
  const retryAfter = options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;

  /** The outcome of the verifier's answer. */
  const settle = (answer: Answer): Outcome => {
    switch (answer.code) {
      case 'VALID':
        if (answer.valid && answer.token !== undefined) return tokenOf(answer.token);
        throw new TookenMiddlewareError('Token verification failed (a VALID answer without its token)');
      case 'INSUFFICIENT_SCOPE':
        return insufficientScope(scopes, realm);
      case 'RATE_LIMITED':
        return rateLimited(answer.ratelimit, Date.now());
      case 'USAGE_EXCEEDED':
        return usageExceeded();
      default:
        // NOT_FOUND, EXPIRED, REVOKED, and any code this version does not know: never let it in.
        return invalidToken(realm);
    }
  };
  /** The outcome of a verifier that failed: 503 when Tooken is unavailable, else thrown. */
  const failed = (error: unknown): Outcome => {
    if (!isUnavailable(error)) throw misconfigured(error);
    return unavailable(retryAfter);
  };

  return {
    atOnce(authorization) {
      const credential = parseBearer(authorization);
      if (credential.kind === 'missing') return missingCredential(realm);
      if (credential.kind === 'malformed') return invalidToken(realm);
      if (verifier.verifyLocally === undefined) return undefined;
      let answer: Answer | undefined;
      try {
        answer = verifier.verifyLocally(credential.secret, asked);
      } catch (error) {
        return failed(error);
      }
      return answer === undefined ? undefined : settle(answer);
    },
    async decide(authorization) {
      const credential = parseBearer(authorization);
      if (credential.kind === 'missing') return missingCredential(realm);
      if (credential.kind === 'malformed') return invalidToken(realm);
      let answer: Answer;
      try {
        answer = await verifier.verify(credential.secret, asked);
      } catch (error) {
        return failed(error);
      }
      return settle(answer);
    },
  };
}

/** The outcome as a `Decision`. */
export const decisionOf = (outcome: Outcome): Decision =>
  isRefusal(outcome) ? { ok: false, refusal: outcome } : { ok: true, token: outcome };

/**
 * The one decision every adapter sends, for a request with this `Authorization` header: the token
 * or the refusal (the verifier asked through `verify`). Throws `TookenMiddlewareError` as `Gate`.
 */
export async function decide(
  authorization: string | readonly string[] | null | undefined,
  options: TookenMiddlewareOptions,
): Promise<Decision> {
  return decisionOf(await createGate(options).decide(authorization));
}
