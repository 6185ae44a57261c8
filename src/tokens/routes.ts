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
import { serializeVerifyResult } from './verify.js';
import { budgetHeaders, type VerifyCallOutcome, type VerifyRequestBody } from './verify-call.js';
import { replayPrereadBody } from './verify-lane.js';

export interface TokenRouteOptions {
  prefix: WorkspacePrefix;
  access: Access;
  tokens: TokenService;
  /** The verify route's work once the caller is allowed (verify-call.ts). */
  verify(workspaceId: string, body: VerifyRequestBody): VerifyCallOutcome;
}

/**
 * Verification is read-only and must reflect a revocation at once: honouring an Idempotency-Key
 * would store a row on the hot path and replay a stale `VALID` for 24 h.
 */
const ignoreIdempotencyKey: onRequestAsyncHookHandler = async (request) => {
  delete request.headers['idempotency-key'];
};

export const tokenRoutes: FastifyPluginAsyncTypebox<TokenRouteOptions> = async (app, opts) => {
  const { access, tokens } = opts;
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
      // A request the fast lane read but handed over (verify-lane.ts) brings its body along.
      preParsing: replayPrereadBody,
      config: { acceptsNul: true },
    },
    async (request, reply) => {
      const { budget, answer } = opts.verify(contextOf(request).workspace.id, request.body);
      // The same headers, in the same order, as the fast lane writes.
      const headers = budgetHeaders(budget);
      for (let i = 0; i < headers.length; i += 2) reply.header(headers[i] as string, headers[i + 1]);
      const result = await answer;
      // Set only for the answer: an error thrown above is written by the error handler as always.
      reply.serializer(serializeVerifyResult).type('application/json; charset=utf-8');
      return result;
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
