import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { onRequestAsyncHookHandler } from 'fastify';
import type { Access } from '../http/access.js';
import { contextOf } from '../http/context.js';
import { listBody, pageOf } from '../http/pagination.js';
import { requestMeta } from '../http/request-meta.js';
import {
  errors,
  IdParam,
  listOf,
  NoContent,
  operation,
  paramsFor,
  type WorkspacePrefix,
} from '../http/schemas.js';
import type { LocalRateLimiter } from '../rate-limit/local-limiter.js';
import {
  CreateTokenBody,
  ListTokensQuery,
  RotateBody,
  TokenBody,
  TokenWithSecret,
  VerifyBody,
  VerifyResponse,
} from './schemas.js';
import type { TokenService } from './service.js';
import type { Verifier } from './verify.js';

export interface TokenRouteOptions {
  prefix: WorkspacePrefix;
  access: Access;
  tokens: TokenService;
  verifier: Verifier;
  verifyLimiter: LocalRateLimiter;
  verifyLimitPerMinute: number;
}

/**
 * Verification is read-only and must reflect a revocation at once: honouring an Idempotency-Key
 * would store a row on the hot path and replay a stale `VALID` for 24 h.
 */
const ignoreIdempotencyKey: onRequestAsyncHookHandler = async (request) => {
  delete request.headers['idempotency-key'];
};

export const tokenRoutes: FastifyPluginAsyncTypebox<TokenRouteOptions> = async (app, opts) => {
  const { access, tokens, verifier, verifyLimiter } = opts;
  const params = paramsFor(opts.prefix, {});
  const tokenParams = paramsFor(opts.prefix, { id: IdParam });
  const tags = ['tokens'];

  app.post(
    '/tokens',
    {
      schema: {
        ...operation(opts.prefix, 'tokens.create', 'Create a token'),
        tags,
        params,
        body: CreateTokenBody,
        response: { 201: TokenWithSecret, ...errors(400, 401, 403, 404, 409, 422, 429) },
      },
      onRequest: access.workspace('tokens.create'),
    },
    async (request, reply) =>
      reply.code(201).send(await tokens.create(contextOf(request), request.body, requestMeta(request))),
  );

  app.get(
    '/tokens',
    {
      schema: {
        ...operation(opts.prefix, 'tokens.list', 'List tokens'),
        tags,
        params,
        querystring: ListTokensQuery,
        response: { 200: listOf(TokenBody), ...errors(400, 401, 403, 404, 429) },
      },
      onRequest: access.workspace('tokens.read'),
    },
    async (request) => {
      const page = pageOf(request.query);
      const { status, name, scope, external_id } = request.query;
      const filter = { status, name, scope, external_id };
      return listBody(await tokens.list(contextOf(request), page, filter), page);
    },
  );

  app.post(
    '/tokens/verify',
    {
      schema: {
        ...operation(opts.prefix, 'tokens.verify', 'Verify a token'),
        tags,
        params,
        body: VerifyBody,
        response: { 200: VerifyResponse, ...errors(400, 401, 403, 404) },
      },
      onRequest: [access.workspace('tokens.verify', { budget: 'verify' }), ignoreIdempotencyKey],
      config: { acceptsNul: true },
    },
    async (request, reply) => {
      const ctx = contextOf(request);
      const budget = verifyLimiter.hit(`verify:${ctx.workspace.id}`, opts.verifyLimitPerMinute);
      reply.header('x-ratelimit-limit', budget.limit);
      reply.header('x-ratelimit-remaining', budget.remaining);
      reply.header('x-ratelimit-reset', budget.reset);
      if (!budget.allowed) reply.header('retry-after', budget.retryAfter);
      return verifier.verify({
        workspaceId: ctx.workspace.id,
        presented: request.body.token,
        scopes: request.body.scopes ?? [],
        rateLimited: !budget.allowed,
      });
    },
  );

  app.get(
    '/tokens/:id',
    {
      schema: {
        ...operation(opts.prefix, 'tokens.get', 'Get a token'),
        tags,
        params: tokenParams,
        response: { 200: TokenBody, ...errors(401, 403, 404, 429) },
      },
      onRequest: access.workspace('tokens.read'),
    },
    async (request) => tokens.get(contextOf(request), request.params.id),
  );

  app.delete(
    '/tokens/:id',
    {
      schema: {
        ...operation(opts.prefix, 'tokens.revoke', 'Revoke a token'),
        tags,
        params: tokenParams,
        response: { 204: NoContent, ...errors(401, 403, 404, 429) },
      },
      onRequest: access.workspace('tokens.revoke'),
    },
    async (request, reply) => {
      await tokens.revoke(contextOf(request), request.params.id, requestMeta(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/tokens/:id/rotate',
    {
      schema: {
        ...operation(opts.prefix, 'tokens.rotate', 'Rotate a token’s secret'),
        tags,
        params: tokenParams,
        body: RotateBody,
        response: { 200: TokenWithSecret, ...errors(400, 401, 403, 404, 409, 429) },
      },
      onRequest: access.workspace('tokens.rotate'),
    },
    async (request) => {
      const grace = request.body?.grace_period_seconds ?? 0;
      return tokens.rotate(contextOf(request), request.params.id, grace, requestMeta(request));
    },
  );
};
