import { createGate, isRefusal, type Outcome } from './core.js';
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
 * and stops the request there. Other errors go to Fastify's error handler.
 *
 * ```ts
 * app.get('/orders', { preHandler: tookenFastify({ verifier, scopes: ['orders:read'] }) }, handler);
 * ```
 *
 * A callback-style hook: when the verifier answers at once (`verifyLocally`, a cache hit of
 * `createVerifier`), it calls `done()` before returning, so the request takes no promise and no
 * trip through the microtask queue; otherwise it waits for `verify`.
 */
export function tookenFastify(options: TookenMiddlewareOptions) {
  const gate = createGate(options);

  /** Attaches the token and lets the request go on, or sends the refusal (and `done` is not called). */
  const finish = (
    outcome: Outcome,
    request: FastifyLikeRequest,
    reply: FastifyLikeReply,
    done: (error?: Error) => void,
  ): void => {
    if (!isRefusal(outcome)) {
      request.tooken = outcome;
      done();
      return;
    }
    try {
      reply.code(outcome.status);
      for (const [name, value] of Object.entries(outcome.headers)) reply.header(name, value);
      reply.send(outcome.body);
    } catch (error) {
      done(error as Error);
    }
  };

  return (request: FastifyLikeRequest, reply: FastifyLikeReply, done: (error?: Error) => void): void => {
    let outcome: Outcome | undefined;
    try {
      outcome = gate.atOnce(request.headers.authorization);
    } catch (error) {
      done(error as Error);
      return;
    }
    if (outcome !== undefined) {
      finish(outcome, request, reply, done);
      return;
    }
    gate.decide(request.headers.authorization).then(
      (decided) => finish(decided, request, reply, done),
      (error: unknown) => done(error as Error),
    );
  };
}
