import { createGate } from './core.js';
import { authenticateResult } from './fetch.js';
import type { TookenMiddlewareOptions, TookenToken } from './types.js';

/** The context variables the middleware sets: `new Hono<{ Variables: TookenVariables }>()`. */
export interface TookenVariables {
  tooken: TookenToken;
}

/** The parts of Hono's context the middleware uses (no import of hono). */
export interface HonoLikeContext {
  req: { raw: Request };
  set(key: 'tooken', value: TookenToken): void;
}

/**
 * Hono middleware: `c.set('tooken', token)` then `next()`, or the 401/403/429/503 response.
 *
 * ```ts
 * app.use('/orders/*', tookenHono({ verifier, scopes: ['orders:read'] }));
 * ```
 */
export function tookenHono(options: TookenMiddlewareOptions) {
  const gate = createGate(options);
  return async (c: HonoLikeContext, next: () => Promise<void>): Promise<Response | undefined> => {
    const authorization = c.req.raw.headers.get('authorization');
    // A verifier that answers at once (a cache hit) is not waited for.
    const auth = authenticateResult(gate.atOnce(authorization) ?? (await gate.decide(authorization)));
    if (!auth.ok) return auth.response;
    c.set('tooken', auth.token);
    await next();
    return undefined;
  };
}
