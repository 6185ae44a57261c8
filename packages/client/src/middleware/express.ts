import { createGate, isRefusal, type Outcome } from './core.js';
import type { TookenMiddlewareOptions, TookenToken } from './types.js';

/** The parts of Express's request the middleware uses (no import of express). */
export interface ExpressLikeRequest {
  headers: { authorization?: string | undefined };
  tooken?: TookenToken;
}

/** The parts of Express's response the middleware uses. */
export interface ExpressLikeResponse {
  status(code: number): unknown;
  setHeader(name: string, value: string): unknown;
  json(body: unknown): unknown;
}

declare global {
  // Express's own augmentation point for properties of `req`.
  namespace Express {
    interface Request {
      /** The token that authenticated the request, set by `tookenExpress(…)`. */
      tooken?: TookenToken;
    }
  }
}

/**
 * Express middleware: sets `req.tooken` and calls `next()`, or answers 401/403/429/503 itself.
 * Errors other than Tooken being unavailable go to `next(error)`. When the verifier answers at once
 * (`verifyLocally`, a cache hit), `next()` is called before it returns.
 *
 * ```ts
 * app.get('/orders', tookenExpress({ verifier, scopes: ['orders:read'] }), (req, res) => …);
 * ```
 */
export function tookenExpress(options: TookenMiddlewareOptions) {
  const gate = createGate(options);

  const finish = (
    outcome: Outcome,
    req: ExpressLikeRequest,
    res: ExpressLikeResponse,
    next: (error?: unknown) => void,
  ): void => {
    if (!isRefusal(outcome)) {
      req.tooken = outcome;
      next();
      return;
    }
    try {
      res.status(outcome.status);
      for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value);
      res.json(outcome.body);
    } catch (error) {
      next(error);
    }
  };

  return (req: ExpressLikeRequest, res: ExpressLikeResponse, next: (error?: unknown) => void): void => {
    let outcome: Outcome | undefined;
    try {
      outcome = gate.atOnce(req.headers.authorization);
    } catch (error) {
      next(error);
      return;
    }
    if (outcome !== undefined) {
      finish(outcome, req, res, next);
      return;
    }
    gate.decide(req.headers.authorization).then((decided) => finish(decided, req, res, next), next);
  };
}
