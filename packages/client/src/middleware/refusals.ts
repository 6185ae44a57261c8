import type { Refusal, RefusalBody } from './types.js';

/** A quoted-string of an auth parameter (RFC 9110 §11.2): backslash-escape `"` and `\`. */
const quoted = (value: string) => `"${value.replace(/["\\]/g, '\\$&')}"`;

/** The `WWW-Authenticate: Bearer …` challenge with the given parameters (realm first). */
function challenge(realm: string | undefined, params: Record<string, string> = {}): string {
  const all = realm === undefined ? params : { realm, ...params };
  const list = Object.entries(all).map(([name, value]) => `${name}=${quoted(value)}`);
  return list.length === 0 ? 'Bearer' : `Bearer ${list.join(', ')}`;
}

const body = (status: number, error: RefusalBody['error'], message: string): RefusalBody => ({
  error,
  message,
  status,
});

/** No credential at all (RFC 6750 §3.1): a challenge without an error code. */
export const missingCredential = (realm?: string): Refusal => ({
  status: 401,
  headers: { 'www-authenticate': challenge(realm) },
  body: body(401, 'unauthorized', 'An Authorization: Bearer <token> header is required'),
});

/** A credential that is malformed, unknown, expired or revoked: one answer, so none is told apart. */
export const invalidToken = (realm?: string): Refusal => ({
  status: 401,
  headers: {
    'www-authenticate': challenge(realm, {
      error: 'invalid_token',
      error_description: 'The access token is invalid, expired or revoked',
    }),
  },
  body: body(401, 'invalid_token', 'The access token is invalid, expired or revoked'),
});

/** A valid token that lacks one of the scopes the route requires. */
export const insufficientScope = (scopes: readonly string[], realm?: string): Refusal => ({
  status: 403,
  headers: { 'www-authenticate': challenge(realm, { error: 'insufficient_scope', scope: scopes.join(' ') }) },
  body: body(403, 'insufficient_scope', `The token needs the scopes: ${scopes.join(' ')}`),
});

/** A token whose uses limit is spent: retrying does not help until it is refilled or raised. */
export const usageExceeded = (): Refusal => ({
  status: 403,
  headers: {},
  body: body(403, 'usage_exceeded', 'The token has no uses left'),
});

/** The token (or the workspace's verification budget) is over its rate limit. */
export function rateLimited(
  ratelimit: { limit: number; remaining: number; reset: number } | undefined,
  nowMs: number,
): Refusal {
  const headers: Record<string, string> = {};
  if (ratelimit !== undefined) {
    headers['x-ratelimit-limit'] = String(ratelimit.limit);
    headers['x-ratelimit-remaining'] = String(ratelimit.remaining);
    headers['x-ratelimit-reset'] = String(ratelimit.reset);
    headers['retry-after'] = String(Math.max(1, Math.ceil(ratelimit.reset - nowMs / 1000)));
  }
  return { status: 429, headers, body: body(429, 'rate_limited', 'Too many requests with this token') };
}

/** Tooken could not answer: fail closed, and say when to try again. */
export const unavailable = (retryAfterSeconds: number): Refusal => ({
  status: 503,
  headers: { 'retry-after': String(retryAfterSeconds) },
  body: body(503, 'unavailable', 'Token verification is unavailable; try again later'),
});
