import type { VerifyResult } from '../client.js';
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
import type { Decision, TookenMiddlewareOptions, TookenToken } from './types.js';

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

/**
 * The one decision every adapter sends: reads the bearer secret from the `Authorization` header,
 * asks the verifier, and maps its answer to the token or to a refusal. A failure other than Tooken
 * being unavailable (a misconfigured API key, a bug) throws `TookenMiddlewareError`.
 */
export async function decide(
  authorization: string | readonly string[] | null | undefined,
  options: TookenMiddlewareOptions,
): Promise<Decision> {
  const { realm } = options;
  const scopes = options.scopes ?? [];
  const credential = parseBearer(authorization);
  if (credential.kind === 'missing') return { ok: false, refusal: missingCredential(realm) };
  if (credential.kind === 'malformed') return { ok: false, refusal: invalidToken(realm) };

  let answer: Answer;
  try {
    const result: VerifyResult = await options.verifier.verify(
      credential.secret,
      scopes.length > 0 ? { scopes } : undefined,
    );
    answer = result;
  } catch (error) {
    if (!isUnavailable(error)) throw misconfigured(error);
    return { ok: false, refusal: unavailable(options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS) };
  }

  switch (answer.code) {
    case 'VALID':
      if (answer.valid && answer.token !== undefined) return { ok: true, token: tokenOf(answer.token) };
      throw new TookenMiddlewareError('Token verification failed (a VALID answer without its token)');
    case 'INSUFFICIENT_SCOPE':
      return { ok: false, refusal: insufficientScope(scopes, realm) };
    case 'RATE_LIMITED':
      return { ok: false, refusal: rateLimited(answer.ratelimit, Date.now()) };
    case 'USAGE_EXCEEDED':
      return { ok: false, refusal: usageExceeded() };
    default:
      // NOT_FOUND, EXPIRED, REVOKED, and any code this version does not know: never let it in.
      return { ok: false, refusal: invalidToken(realm) };
  }
}
