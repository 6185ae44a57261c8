import type { RateLimitResult } from '../rate-limit/limiter.js';
import type { LocalRateLimiter } from '../rate-limit/local-limiter.js';
import type { Verifier, VerifyResult } from './verify.js';

/** A verify request's body, once validated against `VerifyBody`. */
export interface VerifyRequestBody {
  token: string;
  scopes?: string[];
}

/** What one verify call decides: the workspace's verify budget after this call, and the answer. */
export interface VerifyCallOutcome {
  budget: RateLimitResult;
  answer: Promise<VerifyResult>;
}

/**
 * The verify route's work once the caller is allowed (docs/tokens.md#verify), shared by the
 * Fastify route and the fast lane (verify-lane.ts) so both count the same budget and give the
 * same answer: the workspace's verify budget is drawn from, then the token is checked.
 */
export function createVerifyCall(deps: {
  verifier: Verifier;
  verifyLimiter: LocalRateLimiter;
  verifyLimitPerMinute: number;
}): (workspaceId: string, body: VerifyRequestBody) => VerifyCallOutcome {
  return (workspaceId, body) => {
    const budget = deps.verifyLimiter.hit(`verify:${workspaceId}`, deps.verifyLimitPerMinute);
    const answer = deps.verifier.verify({
      workspaceId,
      presented: body.token,
      scopes: body.scopes ?? [],
      rateLimited: !budget.allowed,
    });
    return { budget, answer };
  };
}

/** The budget's headers, in the order the route sets them. */
export function budgetHeaders(budget: RateLimitResult): string[] {
  const headers = [
    'x-ratelimit-limit',
    String(budget.limit),
    'x-ratelimit-remaining',
    String(budget.remaining),
    'x-ratelimit-reset',
    String(budget.reset),
  ];
  if (!budget.allowed) headers.push('retry-after', String(budget.retryAfter));
  return headers;
}
