import { decide } from './core.js';
import type { TookenMiddlewareOptions, TookenToken } from './types.js';

/** The parts of Fastify's request the hook uses (no import of fastify). */
export interface FastifyLikeRequest {
  headers: { authorization?: string | undefined };
  tooken?: TookenToken | null;
}

/** The parts of Fastify's reply the hook uses. */
export interface FastifyLikeReply {
  code(statusCode: number): unknown;
  header(name: string, value: string): unknown;
  send(payload?: unknown): unknown;
}

/**
 * A Fastify `preHandler` (or `onRequest`) hook: sets `request.tooken`, or sends 401/403/429/503
 * and stops the request there. Other errors are thrown to Fastify's error handler.
 *
 * ```ts
 * app.get('/orders', { preHandler: tookenFastify({ verifier, scopes: ['orders:read'] }) }, handler);
 * ```
 */
export function tookenFastify(options: TookenMiddlewareOptions) {
  return async <Reply extends FastifyLikeReply>(
    request: FastifyLikeRequest,
    reply: Reply,
  ): Promise<Reply | undefined> => {
    const decision = await decide(request.headers.authorization, options);
    if (decision.ok) {
      request.tooken = decision.token;
      return undefined;
    }
    const { status, headers, body } = decision.refusal;
    reply.code(status);
    for (const [name, value] of Object.entries(headers)) reply.header(name, value);
    reply.send(body);
    // An async hook that sent the reply returns it, so Fastify runs nothing after it.
    return reply;
  };
}
