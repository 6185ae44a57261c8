import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { onRequestAsyncHookHandler } from 'fastify';
import { AppError } from '../errors.js';
import { clientNetwork } from '../http/client-network.js';
import { requestMeta } from '../http/request-meta.js';
import { errors } from '../http/schemas.js';
import type { RateLimiter } from '../rate-limit/limiter.js';
import { LeakReportBody, ReceivedBody } from './schemas.js';
import type { LeakService } from './service.js';

export interface LeakRouteOptions {
  leaks: LeakService;
  rateLimiter: RateLimiter;
}

/** Reports accepted per client network and minute, across every node (docs/tokens.md#leaked-secrets). */
export const LEAK_REPORTS_PER_MINUTE = 60;

/** `POST /v1/tokens/leaked`: anyone who finds a Tooken secret reports it here, with no credential. */
export const leakRoutes: FastifyPluginAsyncTypebox<LeakRouteOptions> = async (app, opts) => {
  const { leaks, rateLimiter } = opts;

  // Counted before the body is read, so the answer past the budget cannot depend on what it holds.
  const perClient: onRequestAsyncHookHandler = async (request, reply) => {
    const result = await rateLimiter.hit(`leaks:${clientNetwork(request.ip)}`, LEAK_REPORTS_PER_MINUTE);
    reply.header('x-ratelimit-limit', result.limit);
    reply.header('x-ratelimit-remaining', result.remaining);
    reply.header('x-ratelimit-reset', result.reset);
    if (!result.allowed) {
      throw new AppError('rate_limited', 'Too many reports from this address; retry after the reset', {
        headers: { 'retry-after': String(result.retryAfter) },
      });
    }
  };

  app.post(
    '/tokens/leaked',
    {
      schema: {
        operationId: 'tokens.reportLeaked',
        summary: 'Report leaked secrets',
        tags: ['tokens'],
        security: [],
        body: LeakReportBody,
        response: { 202: ReceivedBody, ...errors(400, 413, 429) },
      },
      onRequest: perClient,
      // The strings are only compared, never stored: any string gets the same answer.
      config: { acceptsNul: true },
    },
    async (request, reply) => {
      const findings = Array.isArray(request.body) ? request.body : [request.body];
      await leaks.report(
        findings.map((finding) => finding.token),
        requestMeta(request),
      );
      return reply.code(202).send({ received: true });
    },
  );
};
