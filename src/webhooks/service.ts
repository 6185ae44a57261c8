import type { AuditService, RequestMeta } from '../audit/service.js';
import { diffFields } from '../audit/service.js';
import { newId } from '../auth/credentials.js';
import { actorOf, type Principal } from '../auth/principal.js';
import { seal } from '../auth/sealing.js';
import type { Clock } from '../clock.js';
import { decodeWebhookEvents } from '../db/json.js';
import { countRows } from '../db/paginate.js';
import type { Db, WebhookDeliveriesTable, WebhooksTable } from '../db/schema.js';
import { AppError, badField, notFound } from '../errors.js';
import { queueDelivery, scheduleAttempt } from './dispatch.js';
import { generateWebhookSecret } from './signing.js';
import { type Resolve, resolveSafeTarget, systemResolve, UnsafeUrlError } from './url-guard.js';

export const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000;

export interface WebhookCaller {
  principal: Principal;
  workspace: { id: string; slug: string };
}

export interface WebhookInput {
  url: string;
  description?: string | undefined;
  events: string[];
  enabled?: boolean | undefined;
}

export interface WebhookService {
  list(
    caller: WebhookCaller,
    page: number,
    perPage: number,
  ): Promise<{ rows: WebhooksTable[]; total: number }>;
  get(caller: WebhookCaller, id: string): Promise<WebhooksTable>;
  create(
    caller: WebhookCaller,
    input: WebhookInput,
    meta: RequestMeta,
  ): Promise<{ hook: WebhooksTable; secret: string }>;
  update(
    caller: WebhookCaller,
    id: string,
    patch: Partial<WebhookInput>,
    meta: RequestMeta,
  ): Promise<WebhooksTable>;
  remove(caller: WebhookCaller, id: string, meta: RequestMeta): Promise<void>;
  rotateSecret(
    caller: WebhookCaller,
    id: string,
    meta: RequestMeta,
  ): Promise<{ hook: WebhooksTable; secret: string }>;
  ping(caller: WebhookCaller, id: string): Promise<WebhookDeliveriesTable>;
  deliveries(
    caller: WebhookCaller,
    id: string,
    page: number,
    perPage: number,
  ): Promise<{ rows: WebhookDeliveriesTable[]; total: number }>;
  retry(caller: WebhookCaller, id: string, deliveryId: string): Promise<WebhookDeliveriesTable>;
}

export function createWebhookService(deps: {
  db: Db;
  clock: Clock;
  audit: AuditService;
  serverKey: Buffer;
  allowPrivate: boolean;
  resolve?: Resolve;
}): WebhookService {
  const { db, clock, audit, serverKey, allowPrivate } = deps;
  const resolve = deps.resolve ?? systemResolve;

  const find = async (workspaceId: string, id: string) => {
    const hook = await db
      .selectFrom('webhooks')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (hook === undefined) throw notFound('Webhook');
    return hook;
  };

  /** Refused at save time when the host is a literal or resolves to a non-public address (422). */
  const checkUrl = async (url: string) => {
    try {
      await resolveSafeTarget(url, allowPrivate, resolve);
    } catch (error) {
      if (error instanceof UnsafeUrlError) {
        const schemeProblem =
          error.message.startsWith('must use') || error.message.startsWith('is not a valid');
        throw badField('url', error.message, schemeProblem ? 'bad_request' : 'unprocessable_entity');
      }
      throw error;
    }
  };

  const visible = (hook: WebhooksTable) => ({
    url: hook.url,
    description: hook.description,
    events: decodeWebhookEvents(hook.events),
    enabled: hook.enabled === 1,
  });

  return {
    async list(caller, page, perPage) {
      const base = db.selectFrom('webhooks').where('workspace_id', '=', caller.workspace.id);
      const [rows, total] = await Promise.all([
        base
          .selectAll()
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(perPage)
          .offset((page - 1) * perPage)
          .execute(),
        countRows(base),
      ]);
      return { rows, total };
    },

    get: (caller, id) => find(caller.workspace.id, id),

    async create(caller, input, meta) {
      await checkUrl(input.url);
      const now = clock();
      const secret = generateWebhookSecret();
      const hook: WebhooksTable = {
        id: newId('whk'),
        workspace_id: caller.workspace.id,
        url: input.url,
        description: input.description ?? '',
        events: JSON.stringify([...new Set(input.events)]),
        enabled: input.enabled === false ? 0 : 1,
        secret_sealed: seal(secret, serverKey),
        previous_secret_sealed: null,
        previous_secret_until: null,
        failing_since: null,
        created_at: now,
        updated_at: now,
      };
      await db.transaction().execute(async (tx) => {
        await tx.insertInto('webhooks').values(hook).execute();
        await audit.record(tx, {
          workspaceId: caller.workspace.id,
          event: 'webhook.created',
          actor: actorOf(caller.principal),
          target: { type: 'webhook', id: hook.id, name: hook.url },
          meta,
        });
      });
      return { hook, secret };
    },

    async update(caller, id, patch, meta) {
      const hook = await find(caller.workspace.id, id);
      if (patch.url !== undefined) await checkUrl(patch.url);
      const next = {
        ...(patch.url !== undefined ? { url: patch.url } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.events !== undefined ? { events: [...new Set(patch.events)] } : {}),
        ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      };
      const changes = diffFields(visible(hook), next);
      if (changes === null) return hook;
      const now = clock();
      const updated: WebhooksTable = {
        ...hook,
        ...(next.url !== undefined ? { url: next.url } : {}),
        ...(next.description !== undefined ? { description: next.description } : {}),
        ...(next.events !== undefined ? { events: JSON.stringify(next.events) } : {}),
        ...(next.enabled !== undefined ? { enabled: next.enabled ? 1 : 0 } : {}),
        // Re-enabling starts a fresh failure count.
        failing_since: next.enabled === true ? null : hook.failing_since,
        updated_at: now,
      };
      await db.transaction().execute(async (tx) => {
        const { id: _id, workspace_id: _ws, created_at: _c, ...columns } = updated;
        await tx.updateTable('webhooks').set(columns).where('id', '=', hook.id).execute();
        await audit.record(tx, {
          workspaceId: caller.workspace.id,
          event: 'webhook.updated',
          actor: actorOf(caller.principal),
          target: { type: 'webhook', id: hook.id, name: updated.url },
          changes,
          meta,
        });
      });
      return updated;
    },

    async remove(caller, id, meta) {
      const hook = await find(caller.workspace.id, id);
      await db.transaction().execute(async (tx) => {
        await tx.deleteFrom('webhooks').where('id', '=', hook.id).execute();
        await audit.record(tx, {
          workspaceId: caller.workspace.id,
          event: 'webhook.deleted',
          actor: actorOf(caller.principal),
          target: { type: 'webhook', id: hook.id, name: hook.url },
          meta,
        });
      });
    },

    async rotateSecret(caller, id, meta) {
      const hook = await find(caller.workspace.id, id);
      const now = clock();
      const secret = generateWebhookSecret();
      const updated: WebhooksTable = {
        ...hook,
        secret_sealed: seal(secret, serverKey),
        previous_secret_sealed: hook.secret_sealed,
        previous_secret_until: now + SECRET_OVERLAP_MS,
        updated_at: now,
      };
      await db.transaction().execute(async (tx) => {
        await tx
          .updateTable('webhooks')
          .set({
            secret_sealed: updated.secret_sealed,
            previous_secret_sealed: updated.previous_secret_sealed,
            previous_secret_until: updated.previous_secret_until,
            updated_at: now,
          })
          .where('id', '=', hook.id)
          .execute();
        await audit.record(tx, {
          workspaceId: caller.workspace.id,
          event: 'webhook.updated',
          actor: actorOf(caller.principal),
          target: { type: 'webhook', id: hook.id, name: hook.url },
          changes: {
            secret: { from: 'previous secret', to: 'new secret (the previous one signs alongside for 24 h)' },
          },
          meta,
        });
      });
      return { hook: updated, secret };
    },

    async ping(caller, id) {
      const hook = await find(caller.workspace.id, id);
      const now = clock();
      const eventId = newId('evt');
      const body = JSON.stringify({
        id: eventId,
        event: 'ping',
        timestamp: new Date(now).toISOString(),
        workspace: { id: caller.workspace.id, slug: caller.workspace.slug },
        data: {},
      });
      const deliveryId = await db.transaction().execute((tx) =>
        queueDelivery(tx, {
          webhookId: hook.id,
          workspaceId: caller.workspace.id,
          eventId,
          event: 'ping',
          body,
          at: now,
        }),
      );
      return db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('id', '=', deliveryId)
        .executeTakeFirstOrThrow();
    },

    async deliveries(caller, id, page, perPage) {
      const hook = await find(caller.workspace.id, id);
      const base = db.selectFrom('webhook_deliveries').where('webhook_id', '=', hook.id);
      const [rows, count] = await Promise.all([
        base
          .selectAll()
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(perPage)
          .offset((page - 1) * perPage)
          .execute(),
        countRows(base),
      ]);
      return { rows, total: count };
    },

    async retry(caller, id, deliveryId) {
      const hook = await find(caller.workspace.id, id);
      const delivery = await db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('webhook_id', '=', hook.id)
        .where('id', '=', deliveryId)
        .executeTakeFirst();
      if (delivery === undefined) throw notFound('Delivery');
      if (hook.enabled === 0)
        throw new AppError('conflict', 'The endpoint is disabled; enable it before retrying');
      const now = clock();
      await db.transaction().execute(async (tx) => {
        await tx
          .updateTable('webhook_deliveries')
          .set({ status: 'pending', next_attempt_at: now, updated_at: now })
          .where('id', '=', delivery.id)
          .execute();
        await scheduleAttempt(tx, delivery.id, now);
      });
      return { ...delivery, status: 'pending', next_attempt_at: now, updated_at: now };
    },
  };
}
