import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
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
  PageQuery,
  paramsFor,
  type WorkspacePrefix,
} from '../http/schemas.js';
import { ApiKeyBody, ApiKeyWithSecret, CreateApiKeyBody } from './schemas.js';
import type { ApiKeyService } from './service.js';

export interface ApiKeyRouteOptions {
  prefix: WorkspacePrefix;
  access: Access;
  apiKeys: ApiKeyService;
}

/** Every member manages their personal keys; Owners also team keys (the service checks which). */
export const apiKeyRoutes: FastifyPluginAsyncTypebox<ApiKeyRouteOptions> = async (app, opts) => {
  const { access, apiKeys } = opts;
  const params = paramsFor(opts.prefix, {});
  const keyParams = paramsFor(opts.prefix, { id: IdParam });
  const tags = ['api-keys'];

  app.get(
    '/api-keys',
    {
      schema: {
        ...operation(opts.prefix, 'apiKeys.list', 'List API keys'),
        tags,
        params,
        querystring: PageQuery,
        response: { 200: listOf(ApiKeyBody), ...errors(400, 401, 403, 404, 429) },
      },
      onRequest: access.workspace('api_keys.personal'),
    },
    async (request) => {
      const page = pageOf(request.query);
      return listBody(await apiKeys.list(contextOf(request), page), page);
    },
  );

  app.post(
    '/api-keys',
    {
      schema: {
        ...operation(opts.prefix, 'apiKeys.create', 'Create an API key'),
        tags,
        params,
        body: CreateApiKeyBody,
        response: { 201: ApiKeyWithSecret, ...errors(400, 401, 403, 404, 409, 429) },
      },
      onRequest: access.workspace('api_keys.personal'),
    },
    async (request, reply) =>
      reply.code(201).send(await apiKeys.create(contextOf(request), request.body, requestMeta(request))),
  );

  app.post(
    '/api-keys/:id/regenerate',
    {
      schema: {
        ...operation(opts.prefix, 'apiKeys.regenerate', 'Regenerate an API key’s secret'),
        tags,
        params: keyParams,
        response: { 200: ApiKeyWithSecret, ...errors(401, 403, 404, 429) },
      },
      onRequest: access.workspace('api_keys.personal'),
    },
    async (request) => apiKeys.regenerate(contextOf(request), request.params.id, requestMeta(request)),
  );

  app.delete(
    '/api-keys/:id',
    {
      schema: {
        ...operation(opts.prefix, 'apiKeys.delete', 'Delete an API key'),
        tags,
        params: keyParams,
        response: { 204: NoContent, ...errors(401, 403, 404, 429) },
      },
      onRequest: access.workspace('api_keys.personal'),
    },
    async (request, reply) => {
      await apiKeys.remove(contextOf(request), request.params.id, requestMeta(request));
      return reply.code(204).send(null);
    },
  );
};
