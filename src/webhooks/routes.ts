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
import {
  CreateWebhookBody,
  DeliveryBody,
  UpdateWebhookBody,
  WebhookBody,
  WebhookWithSecret,
} from './schemas.js';
import type { WebhookService } from './service.js';

export interface WebhookRouteOptions {
  prefix: WorkspacePrefix;
  access: Access;
  webhooks: WebhookService;
}

export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRouteOptions> = async (app, opts) => {
  const { access, webhooks } = opts;
  const params = paramsFor(opts.prefix, {});
  const hookParams = paramsFor(opts.prefix, { id: IdParam });
  const deliveryParams = paramsFor(opts.prefix, { id: IdParam, dlv_id: IdParam });
  const tags = ['webhooks'];

  app.get(
    '/webhooks',
    {
      schema: {
        ...operation(opts.prefix, 'webhooks.list', 'List webhook endpoints'),
        tags,
        params,
        querystring: PageQuery,
        response: { 200: listOf(WebhookBody), ...errors(400, 401, 403, 404, 429) },
      },
      onRequest: access.workspace('webhooks.read'),
    },
    async (request) => {
      const page = pageOf(request.query);
      return listBody(await webhooks.list(contextOf(request), page), page);
    },
  );

  app.post(
    '/webhooks',
    {
      schema: {
        ...operation(opts.prefix, 'webhooks.create', 'Create a webhook endpoint'),
        tags,
        params,
        body: CreateWebhookBody,
        response: { 201: WebhookWithSecret, ...errors(400, 401, 403, 404, 422, 429) },
      },
      onRequest: access.workspace('webhooks.write'),
    },
    async (request, reply) =>
      reply.code(201).send(await webhooks.create(contextOf(request), request.body, requestMeta(request))),
  );

  app.get(
    '/webhooks/:id',
    {
      schema: {
        ...operation(opts.prefix, 'webhooks.get', 'Get a webhook endpoint'),
        tags,
        params: hookParams,
        response: { 200: WebhookBody, ...errors(401, 403, 404, 429) },
      },
      onRequest: access.workspace('webhooks.read'),
    },
    async (request) => webhooks.get(contextOf(request), request.params.id),
  );

  app.patch(
    '/webhooks/:id',
    {
      schema: {
        ...operation(opts.prefix, 'webhooks.update', 'Change a webhook endpoint'),
        tags,
        params: hookParams,
        body: UpdateWebhookBody,
        response: { 200: WebhookBody, ...errors(400, 401, 403, 404, 422, 429) },
      },
      onRequest: access.workspace('webhooks.write'),
    },
    async (request) =>
      webhooks.update(contextOf(request), request.params.id, request.body, requestMeta(request)),
  );

  app.delete(
    '/webhooks/:id',
    {
      schema: {
        ...operation(opts.prefix, 'webhooks.delete', 'Delete a webhook endpoint'),
        tags,
        params: hookParams,
        response: { 204: NoContent, ...errors(401, 403, 404, 429) },
      },
      onRequest: access.workspace('webhooks.write'),
    },
    async (request, reply) => {
      await webhooks.remove(contextOf(request), request.params.id, requestMeta(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/webhooks/:id/rotate-secret',
    {
      schema: {
        ...operation(opts.prefix, 'webhooks.rotateSecret', 'Rotate an endpoint’s signing secret'),
        tags,
        params: hookParams,
        response: { 200: WebhookWithSecret, ...errors(401, 403, 404, 429) },
      },
      onRequest: access.workspace('webhooks.write'),
    },
    async (request) => webhooks.rotateSecret(contextOf(request), request.params.id, requestMeta(request)),
  );

  app.post(
    '/webhooks/:id/test',
    {
      schema: {
        ...operation(opts.prefix, 'webhooks.test', 'Send a test event'),
        tags,
        params: hookParams,
        response: { 202: DeliveryBody, ...errors(401, 403, 404, 429) },
      },
      onRequest: access.workspace('webhooks.write'),
    },
    async (request, reply) =>
      reply.code(202).send(await webhooks.ping(contextOf(request), request.params.id)),
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      schema: {
        ...operation(opts.prefix, 'webhooks.deliveries', 'List an endpoint’s deliveries'),
        tags,
        params: hookParams,
        querystring: PageQuery,
        response: { 200: listOf(DeliveryBody), ...errors(400, 401, 403, 404, 429) },
      },
      onRequest: access.workspace('webhooks.read'),
    },
    async (request) => {
      const page = pageOf(request.query);
      return listBody(await webhooks.deliveries(contextOf(request), request.params.id, page), page);
    },
  );

  app.post(
    '/webhooks/:id/deliveries/:dlv_id/retry',
    {
      schema: {
        ...operation(opts.prefix, 'webhooks.retry', 'Retry a delivery'),
        tags,
        params: deliveryParams,
        response: { 202: DeliveryBody, ...errors(401, 403, 404, 409, 429) },
      },
      onRequest: access.workspace('webhooks.write'),
    },
    async (request, reply) =>
      reply
        .code(202)
        .send(await webhooks.retry(contextOf(request), request.params.id, request.params.dlv_id)),
  );
};
