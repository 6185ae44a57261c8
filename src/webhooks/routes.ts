import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { iso, isoOrNull } from '../clock.js';
import type { DeliveryAttempt, WebhookDeliveriesTable, WebhooksTable } from '../db/schema.js';
import type { Access } from '../http/access.js';
import { contextOf } from '../http/context.js';
import { requestMeta } from '../http/request-meta.js';
import { bothPaths, errors, listOf, NoContent, PageQuery, SlugParams } from '../http/schemas.js';
import type { Services } from '../services.js';
import {
  CreateWebhookBody,
  DeliveryBody,
  DeliveryParams,
  UpdateWebhookBody,
  WebhookBody,
  WebhookParams,
  WebhookWithSecret,
} from './schemas.js';

/** The one serialiser of an endpoint: secrets (sealed or not) never reach a response from here. */
const webhookBody = (hook: WebhooksTable) => ({
  id: hook.id,
  url: hook.url,
  description: hook.description,
  events: JSON.parse(hook.events) as string[],
  enabled: hook.enabled === 1,
  created_at: iso(hook.created_at),
  updated_at: iso(hook.updated_at),
  failing_since: isoOrNull(hook.failing_since),
});

const deliveryBody = (d: WebhookDeliveriesTable) => ({
  id: d.id,
  event_id: d.event_id,
  event: d.event,
  status: d.status,
  attempts: JSON.parse(d.attempts) as DeliveryAttempt[],
  next_attempt_at: isoOrNull(d.next_attempt_at),
  created_at: iso(d.created_at),
});

export function registerWebhookRoutes(app: FastifyInstance, services: Services, access: Access): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { webhooks } = services;

  for (const url of bothPaths('/webhooks')) {
    r.get(
      url,
      {
        schema: {
          tags: ['webhooks'],
          params: SlugParams,
          querystring: PageQuery,
          response: { 200: listOf(WebhookBody), ...errors(400, 401, 403, 404, 429) },
        },
        onRequest: access.workspace('webhooks.read'),
      },
      async (request) => {
        const { page = 1, per_page = 25 } = request.query;
        const { rows, total } = await webhooks.list(contextOf(request), page, per_page);
        return { data: rows.map(webhookBody), meta: { page, per_page, total } };
      },
    );
    r.post(
      url,
      {
        schema: {
          tags: ['webhooks'],
          params: SlugParams,
          body: CreateWebhookBody,
          response: { 201: WebhookWithSecret, ...errors(400, 401, 403, 404, 422, 429) },
        },
        onRequest: access.workspace('webhooks.write'),
      },
      async (request, reply) => {
        const { hook, secret } = await webhooks.create(
          contextOf(request),
          request.body,
          requestMeta(request),
        );
        return reply.code(201).send({ ...webhookBody(hook), secret });
      },
    );
  }

  for (const url of bothPaths('/webhooks/:id')) {
    r.get(
      url,
      {
        schema: {
          tags: ['webhooks'],
          params: WebhookParams,
          response: { 200: WebhookBody, ...errors(401, 403, 404, 429) },
        },
        onRequest: access.workspace('webhooks.read'),
      },
      async (request) => webhookBody(await webhooks.get(contextOf(request), request.params.id)),
    );
    r.patch(
      url,
      {
        schema: {
          tags: ['webhooks'],
          params: WebhookParams,
          body: UpdateWebhookBody,
          response: { 200: WebhookBody, ...errors(400, 401, 403, 404, 422, 429) },
        },
        onRequest: access.workspace('webhooks.write'),
      },
      async (request) =>
        webhookBody(
          await webhooks.update(contextOf(request), request.params.id, request.body, requestMeta(request)),
        ),
    );
    r.delete(
      url,
      {
        schema: {
          tags: ['webhooks'],
          params: WebhookParams,
          response: { 204: NoContent, ...errors(401, 403, 404, 429) },
        },
        onRequest: access.workspace('webhooks.write'),
      },
      async (request, reply) => {
        await webhooks.remove(contextOf(request), request.params.id, requestMeta(request));
        return reply.code(204).send(null);
      },
    );
  }

  for (const url of bothPaths('/webhooks/:id/rotate-secret')) {
    r.post(
      url,
      {
        schema: {
          tags: ['webhooks'],
          params: WebhookParams,
          response: { 200: WebhookWithSecret, ...errors(401, 403, 404, 429) },
        },
        onRequest: access.workspace('webhooks.write'),
      },
      async (request) => {
        const { hook, secret } = await webhooks.rotateSecret(
          contextOf(request),
          request.params.id,
          requestMeta(request),
        );
        return { ...webhookBody(hook), secret };
      },
    );
  }

  for (const url of bothPaths('/webhooks/:id/test')) {
    r.post(
      url,
      {
        schema: {
          tags: ['webhooks'],
          params: WebhookParams,
          response: { 202: DeliveryBody, ...errors(401, 403, 404, 429) },
        },
        onRequest: access.workspace('webhooks.write'),
      },
      async (request, reply) =>
        reply.code(202).send(deliveryBody(await webhooks.ping(contextOf(request), request.params.id))),
    );
  }

  for (const url of bothPaths('/webhooks/:id/deliveries')) {
    r.get(
      url,
      {
        schema: {
          tags: ['webhooks'],
          params: WebhookParams,
          querystring: PageQuery,
          response: { 200: listOf(DeliveryBody), ...errors(400, 401, 403, 404, 429) },
        },
        onRequest: access.workspace('webhooks.read'),
      },
      async (request) => {
        const { page = 1, per_page = 25 } = request.query;
        const { rows, total } = await webhooks.deliveries(
          contextOf(request),
          request.params.id,
          page,
          per_page,
        );
        return { data: rows.map(deliveryBody), meta: { page, per_page, total } };
      },
    );
  }

  for (const url of bothPaths('/webhooks/:id/deliveries/:dlv_id/retry')) {
    r.post(
      url,
      {
        schema: {
          tags: ['webhooks'],
          params: DeliveryParams,
          response: { 202: DeliveryBody, ...errors(401, 403, 404, 409, 429) },
        },
        onRequest: access.workspace('webhooks.write'),
      },
      async (request, reply) =>
        reply
          .code(202)
          .send(
            deliveryBody(await webhooks.retry(contextOf(request), request.params.id, request.params.dlv_id)),
          ),
    );
  }
}
