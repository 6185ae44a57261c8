import { createClient } from '../client.js';
import type { TokenVerifier } from './types.js';

export interface RemoteVerifierOptions {
  baseUrl: string;
  /** An API key of the workspace (`tok_live_…`), or a token with the `tokens:verify` scope. */
  apiKey: string;
  /** Name the workspace in the path (`/v1/workspaces/{slug}/tokens/verify`). */
  workspace?: string;
  /** Give up on an answer after this long, in milliseconds (default 5000): the request gets 503. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * A verifier that asks the server on every call (`POST /v1/tokens/verify`, no cache, no retry):
 * exact at every instant, at the cost of one round trip per request. A network failure or a
 * timeout throws `TookenUnreachableError`, which the middleware answers with 503.
 */
export function remoteVerifier(options: RemoteVerifierOptions): TokenVerifier {
  const send = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 5000;
  const client = createClient({
    baseUrl: options.baseUrl,
    apiKey: options.apiKey,
    workspace: options.workspace,
    maxRetries: 0,
    fetch: (input, init) => {
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
      return send(input, { ...init, signal });
    },
  });
  return {
    verify: (secret, check = {}) =>
      client.tokens.verify(secret, check.scopes === undefined ? {} : { scopes: [...check.scopes] }),
  };
}
