import { decide } from './core.js';
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
 * Errors other than Tooken being unavailable go to `next(error)`.
 *
 * ```ts
 * app.get('/orders', tookenExpress({ verifier, scopes: ['orders:read'] }), (req, res) => …);
 * ```
 */
export function tookenExpress(options: TookenMiddlewareOptions) {
  return async (
    req: ExpressLikeRequest,
    res: ExpressLikeResponse,
    next: (error?: unknown) => void,
  ): Promise<void> => {
    let decision: Awaited<ReturnType<typeof decide>>;
    try {
      decision = await decide(req.headers.authorization, options);
    } catch (error) {
      next(error);
      return;
    }
    if (decision.ok) {
      req.tooken = decision.token;
      next();
      return;
    }
    const { status, headers, body } = decision.refusal;
    res.status(status);
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.json(body);
  };
}
