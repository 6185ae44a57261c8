import type { VerifyResult } from '../client.js';

/**
 * What the middleware needs from a verifier: the in-process `createVerifier(…)` and the plain
 * `remoteVerifier(…)` both fit. It answers with the `/v1/tokens/verify` result and throws
 * `TookenUnavailableError` (or `TookenUnreachableError`) when Tooken cannot answer.
 */
export interface TokenVerifier {
  verify(secret: string, options?: { scopes?: readonly string[] }): Promise<VerifyResult>;
  /**
   * Optional: `verify`'s answer when it can be given at once (e.g. from a cache), else `undefined`.
   * The middleware asks it first and calls `verify` only when it gives `undefined`, so a request it
   * answers takes no trip through the event loop.
   */
  verifyLocally?(secret: string, options?: { scopes?: readonly string[] }): VerifyResult | undefined;
}

/** The verified token, as the middleware attaches it to the request. */
export interface TookenToken {
  id: string;
  name: string;
  scopes: string[];
  metadata: Record<string, unknown>;
  /** Your own identifier for the token's owner, or `null` when none was set. */
  external_id: string | null;
  /** When the token expires (ISO 8601), or `null` when it never does. */
  expires_at: string | null;
}

export interface TookenMiddlewareOptions {
  verifier: TokenVerifier;
  /** Scopes the token must all hold; a token lacking one is refused with 403. */
  scopes?: readonly string[];
  /** `realm` of the `WWW-Authenticate` challenge; none by default. */
  realm?: string;
  /** `Retry-After` (seconds) of the 503 sent when Tooken cannot answer (default 5). */
  retryAfterSeconds?: number;
}

/** The JSON body of a refusal, in the style of the Tooken API's own errors. */
export interface RefusalBody {
  error:
    | 'unauthorized'
    | 'invalid_token'
    | 'insufficient_scope'
    | 'usage_exceeded'
    | 'rate_limited'
    | 'unavailable';
  message: string;
  status: number;
}

/** A request the middleware refuses: status, headers and body, whatever the framework. */
export interface Refusal {
  status: 401 | 403 | 429 | 503;
  headers: Record<string, string>;
  body: RefusalBody;
}

/** The outcome of checking one request: the token, or the refusal to send. */
export type Decision = { ok: true; token: TookenToken } | { ok: false; refusal: Refusal };
