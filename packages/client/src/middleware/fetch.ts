import { createGate, isRefusal, type Outcome } from './core.js';
import type { Refusal, TookenMiddlewareOptions, TookenToken } from './types.js';

export type AuthenticateResult = { ok: true; token: TookenToken } | { ok: false; response: Response };

/** The refusal as a Fetch API `Response` (JSON body, challenge and retry headers). */
export function refusalResponse(refusal: Refusal): Response {
  return new Response(JSON.stringify(refusal.body), {
    status: refusal.status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...refusal.headers },
  });
}

/** The outcome as `authenticate` answers it. */
export const authenticateResult = (outcome: Outcome): AuthenticateResult =>
  isRefusal(outcome) ? { ok: false, response: refusalResponse(outcome) } : { ok: true, token: outcome };

/**
 * Checks a Fetch API `Request` (Cloudflare Workers, Deno, Bun, Next.js route handlers, …):
 * the token, or the `Response` to send instead.
 *
 * ```ts
 * const auth = await authenticate(request, { verifier, scopes: ['orders:read'] });
 * if (!auth.ok) return auth.response;
 * ```
 */
export async function authenticate(
  request: Request,
  options: TookenMiddlewareOptions,
): Promise<AuthenticateResult> {
  const gate = createGate(options);
  const authorization = request.headers.get('authorization');
  return authenticateResult(gate.atOnce(authorization) ?? (await gate.decide(authorization)));
}
