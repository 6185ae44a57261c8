import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { iso, isoOrNull } from '../clock.js';
import type { Access } from '../http/access.js';
import { contextOf, type WorkspaceContext } from '../http/context.js';
import { requestMeta } from '../http/request-meta.js';
import { bothPaths, errors, listOf, NoContent, PageQuery, SlugParams } from '../http/schemas.js';
import type { Services } from '../services.js';
import { ApiKeyBody, ApiKeyParams, ApiKeyWithSecret, CreateApiKeyBody } from './schemas.js';
import type { ApiKeyView, KeyCaller } from './service.js';

const keyBody = (key: ApiKeyView) => ({
  ...key,
  created_at: iso(key.created_at),
  last_used_at: isoOrNull(key.last_used_at),
});

function callerOf(ctx: WorkspaceContext): KeyCaller {
  // Tokens never reach these routes (the permission has no scope), so a role is always present.
  return {
    principal: ctx.principal,
    workspaceId: ctx.workspace.id,
    role: ctx.role ?? 'viewer',
    userId: ctx.userId,
  };
}

export function registerApiKeyRoutes(app: FastifyInstance, services: Services, access: Access): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { apiKeys } = services;

  for (const url of bothPaths('/api-keys')) {
    r.get(
      url,
      {
        schema: {
          tags: ['api-keys'],
          params: SlugParams,
          querystring: PageQuery,
          response: { 200: listOf(ApiKeyBody), ...errors(400, 401, 403, 404, 429) },
        },
        onRequest: access.workspace('api_keys.personal'),
      },
      async (request) => {
        const { page = 1, per_page = 25 } = request.query;
        const { rows, total } = await apiKeys.list(callerOf(contextOf(request)), page, per_page);
        return { data: rows.map(keyBody), meta: { page, per_page, total } };
      },
    );

    r.post(
      url,
      {
        schema: {
          tags: ['api-keys'],
          params: SlugParams,
          body: CreateApiKeyBody,
          response: { 201: ApiKeyWithSecret, ...errors(400, 401, 403, 404, 409, 429) },
        },
        onRequest: access.workspace('api_keys.personal'),
      },
      async (request, reply) => {
        const { key, secret } = await apiKeys.create(
          callerOf(contextOf(request)),
          request.body,
          requestMeta(request),
        );
        return reply.code(201).send({ ...keyBody(key), key: secret });
      },
    );
  }

  for (const url of bothPaths('/api-keys/:id/regenerate')) {
    r.post(
      url,
      {
        schema: {
          tags: ['api-keys'],
          params: ApiKeyParams,
          response: { 200: ApiKeyWithSecret, ...errors(401, 403, 404, 429) },
        },
        onRequest: access.workspace('api_keys.personal'),
      },
      async (request) => {
        const ctx = contextOf(request);
        const { key, secret } = await apiKeys.regenerate(
          callerOf(ctx),
          request.params.id,
          requestMeta(request),
        );
        return { ...keyBody(key), key: secret };
      },
    );
  }

  for (const url of bothPaths('/api-keys/:id')) {
    r.delete(
      url,
      {
        schema: {
          tags: ['api-keys'],
          params: ApiKeyParams,
          response: { 204: NoContent, ...errors(401, 403, 404, 429) },
        },
        onRequest: access.workspace('api_keys.personal'),
      },
      async (request, reply) => {
        await apiKeys.remove(callerOf(contextOf(request)), request.params.id, requestMeta(request));
        return reply.code(204).send(null);
      },
    );
  }
}
