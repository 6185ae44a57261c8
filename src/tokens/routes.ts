import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { Access } from '../http/access.js';
import { contextOf } from '../http/context.js';
import { requestMeta } from '../http/request-meta.js';
import { bothPaths, errors, listOf, NoContent, SlugParams } from '../http/schemas.js';
import type { Services } from '../services.js';
import {
  CreateTokenBody,
  ListTokensQuery,
  RotateBody,
  TokenBody,
  TokenParams,
  TokenWithSecret,
  VerifyBody,
  VerifyResponse,
} from './schemas.js';

/**
 * Verification is read-only and must reflect a revocation at once (SPEC §5.4, §5.6): honouring an
 * Idempotency-Key would store a row on the hot path and replay a stale `VALID` for 24 h.
 */
const ignoreIdempotencyKey: onRequestAsyncHookHandler = async (request) => {
  delete request.headers['idempotency-key'];
};

export function registerTokenRoutes(app: FastifyInstance, services: Services, access: Access): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { tokens, verifier, verifyLimiter, config } = services;

  for (const url of bothPaths('/tokens')) {
    r.post(
      url,
      {
        schema: {
          tags: ['tokens'],
          params: SlugParams,
          body: CreateTokenBody,
          response: { 201: TokenWithSecret, ...errors(400, 401, 403, 404, 409, 422, 429) },
        },
        onRequest: access.workspace('tokens.create'),
      },
      async (request, reply) => {
        const { token, secret } = await tokens.create(contextOf(request), request.body, requestMeta(request));
        return reply.code(201).send({ ...token, token: secret });
      },
    );

    r.get(
      url,
      {
        schema: {
          tags: ['tokens'],
          params: SlugParams,
          querystring: ListTokensQuery,
          response: { 200: listOf(TokenBody), ...errors(400, 401, 403, 404, 429) },
        },
        onRequest: access.workspace('tokens.read'),
      },
      async (request) => {
        const { page = 1, per_page = 25, status, name } = request.query;
        const { rows, total } = await tokens.list(contextOf(request), {
          page,
          perPage: per_page,
          status,
          name,
        });
        return { data: rows, meta: { page, per_page, total } };
      },
    );
  }

  for (const url of bothPaths('/tokens/verify')) {
    r.post(
      url,
      {
        schema: {
          tags: ['tokens'],
          params: SlugParams,
          body: VerifyBody,
          response: { 200: VerifyResponse, ...errors(400, 401, 403, 404) },
        },
        onRequest: [access.workspace('tokens.verify', { budget: 'verify' }), ignoreIdempotencyKey],
        config: { acceptsNul: true },
      },
      async (request, reply) => {
        const ctx = contextOf(request);
        const budget = verifyLimiter.hit(`verify:${ctx.workspace.id}`, config.verifyRateLimitPerMinute);
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
  }

  for (const url of bothPaths('/tokens/:id')) {
    r.get(
      url,
      {
        schema: {
          tags: ['tokens'],
          params: TokenParams,
          response: { 200: TokenBody, ...errors(401, 403, 404, 429) },
        },
        onRequest: access.workspace('tokens.read'),
      },
      async (request) => tokens.get(contextOf(request), request.params.id),
    );

    r.delete(
      url,
      {
        schema: {
          tags: ['tokens'],
          params: TokenParams,
          response: { 204: NoContent, ...errors(401, 403, 404, 429) },
        },
        onRequest: access.workspace('tokens.revoke'),
      },
      async (request, reply) => {
        await tokens.revoke(contextOf(request), request.params.id, requestMeta(request));
        return reply.code(204).send(null);
      },
    );
  }

  for (const url of bothPaths('/tokens/:id/rotate')) {
    r.post(
      url,
      {
        schema: {
          tags: ['tokens'],
          params: TokenParams,
          body: RotateBody,
          response: { 200: TokenWithSecret, ...errors(400, 401, 403, 404, 409, 429) },
        },
        onRequest: access.workspace('tokens.rotate'),
      },
      async (request) => {
        const grace = request.body?.grace_period_seconds ?? 0;
        const { token, secret } = await tokens.rotate(
          contextOf(request),
          request.params.id,
          grace,
          requestMeta(request),
        );
        return { ...token, token: secret };
      },
    );
  }
}
