import type { AuditService, RequestMeta } from '../audit/service.js';
import { diffFields } from '../audit/service.js';
import type { WorkspaceContext } from '../auth/context.js';
import { actorOf } from '../auth/principal.js';
import { seal } from '../auth/sealing.js';
import type { Clock } from '../clock.js';
import { decodeWebhookEvents } from '../db/json.js';
import { type PageOf, type PageRequest, paginate } from '../db/paginate.js';
import type { Db, Tx, WebhooksTable } from '../db/schema.js';
import { AppError, badField, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { queueDelivery, scheduleAttempt } from './dispatch.js';
import { generateWebhookSecret } from './signing.js';
import { assertMayCarry, assertMayRedirect } from './subscriptions.js';
import { type Resolve, resolveSafeTarget, systemResolve, UnsafeUrlError } from './url-guard.js';
import { type DeliveryView, deliveryView, type WebhookView, webhookView } from './view.js';

export const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000;
export const MAX_WEBHOOKS_PER_WORKSPACE = 20;

export interface WebhookInput {
  url: string;
  description?: string | undefined;
  events: string[];
  enabled?: boolean | undefined;
}

export interface WebhookService {
  list(ctx: WorkspaceContext, page: PageRequest): Promise<PageOf<WebhookView>>;
  get(ctx: WorkspaceContext, id: string): Promise<WebhookView>;
  create(ctx: WorkspaceContext, input: WebhookInput, meta: RequestMeta): Promise<WebhookWithSecret>;
  update(
    ctx: WorkspaceContext,
    id: string,
    patch: Partial<WebhookInput>,
    meta: RequestMeta,
  ): Promise<WebhookView>;
  remove(ctx: WorkspaceContext, id: string, meta: RequestMeta): Promise<void>;
  rotateSecret(ctx: WorkspaceContext, id: string, meta: RequestMeta): Promise<WebhookWithSecret>;
  ping(ctx: WorkspaceContext, id: string): Promise<DeliveryView>;
  deliveries(ctx: WorkspaceContext, id: string, page: PageRequest): Promise<PageOf<DeliveryView>>;
  retry(ctx: WorkspaceContext, id: string, deliveryId: string): Promise<DeliveryView>;
}

/** An endpoint as the API returns it once, with its signing secret. */
export type WebhookWithSecret = WebhookView & { secret: string };

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

  /** 409 when the workspace has its maximum of endpoints. */
  const checkRoom = async (tx: Tx, workspaceId: string) => {
    // Locks the workspace row until commit, so concurrent creates in one workspace count one after
    // another on PostgreSQL (SQLite has a single writer).
    await tx
      .updateTable('workspaces')
      .set((eb) => ({ name: eb.ref('name') }))
      .where('id', '=', workspaceId)
      .execute();
    const { n } = await tx
      .selectFrom('webhooks')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirstOrThrow();
    if (Number(n) >= MAX_WEBHOOKS_PER_WORKSPACE) {
      throw new AppError(
        'conflict',
        `A workspace has at most ${MAX_WEBHOOKS_PER_WORKSPACE} webhooks; delete one before adding another`,
      );
    }
  };

  const visible = (hook: WebhooksTable) => ({
    url: hook.url,
    description: hook.description,
    events: decodeWebhookEvents(hook.events),
    enabled: hook.enabled === 1,
  });

  return {
    async list(ctx, page) {
      const found = await paginate(
        db.selectFrom('webhooks').where('workspace_id', '=', ctx.workspace.id),
        (q) => q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'),
        page,
      );
      return { rows: found.rows.map(webhookView), total: found.total };
    },

    get: async (ctx, id) => webhookView(await find(ctx.workspace.id, id)),

    async create(ctx, input, meta) {
      assertMayCarry(ctx, input.events);
      await checkUrl(input.url);
      const now = clock();
      const secret = generateWebhookSecret();
      const hook: WebhooksTable = {
        id: newId('whk'),
        workspace_id: ctx.workspace.id,
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
        await checkRoom(tx, ctx.workspace.id);
        await tx.insertInto('webhooks').values(hook).execute();
        await audit.record(tx, {
          workspaceId: ctx.workspace.id,
          event: 'webhook.created',
          actor: actorOf(ctx.principal),
          target: { type: 'webhook', id: hook.id, name: hook.url },
          meta,
        });
      });
      return { ...webhookView(hook), secret };
    },

    async update(ctx, id, patch, meta) {
      const hook = await find(ctx.workspace.id, id);
      assertMayRedirect(ctx, { url: hook.url, events: decodeWebhookEvents(hook.events) }, patch);
      if (patch.url !== undefined) await checkUrl(patch.url);
      const next = {
        ...(patch.url !== undefined ? { url: patch.url } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.events !== undefined ? { events: [...new Set(patch.events)] } : {}),
        ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      };
      const changes = diffFields(visible(hook), next);
      if (changes === null) return webhookView(hook);
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
          workspaceId: ctx.workspace.id,
          event: 'webhook.updated',
          actor: actorOf(ctx.principal),
          target: { type: 'webhook', id: hook.id, name: updated.url },
          changes,
          meta,
        });
      });
      return webhookView(updated);
    },

    async remove(ctx, id, meta) {
      const hook = await find(ctx.workspace.id, id);
      await db.transaction().execute(async (tx) => {
        await tx.deleteFrom('webhooks').where('id', '=', hook.id).execute();
        await audit.record(tx, {
          workspaceId: ctx.workspace.id,
          event: 'webhook.deleted',
          actor: actorOf(ctx.principal),
          target: { type: 'webhook', id: hook.id, name: hook.url },
          meta,
        });
      });
    },

    async rotateSecret(ctx, id, meta) {
      const hook = await find(ctx.workspace.id, id);
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
          workspaceId: ctx.workspace.id,
          event: 'webhook.updated',
          actor: actorOf(ctx.principal),
          target: { type: 'webhook', id: hook.id, name: hook.url },
          changes: {
            secret: { from: 'previous secret', to: 'new secret (the previous one signs alongside for 24 h)' },
          },
          meta,
        });
      });
      return { ...webhookView(updated), secret };
    },

    async ping(ctx, id) {
      const hook = await find(ctx.workspace.id, id);
      const now = clock();
      const eventId = newId('evt');
      const body = JSON.stringify({
        id: eventId,
        event: 'ping',
        timestamp: new Date(now).toISOString(),
        workspace: { id: ctx.workspace.id, slug: ctx.workspace.slug },
        data: {},
      });
      const deliveryId = await db.transaction().execute((tx) =>
        queueDelivery(tx, {
          webhookId: hook.id,
          workspaceId: ctx.workspace.id,
          eventId,
          event: 'ping',
          body,
          at: now,
        }),
      );
      return deliveryView(
        await db
          .selectFrom('webhook_deliveries')
          .selectAll()
          .where('id', '=', deliveryId)
          .executeTakeFirstOrThrow(),
      );
    },

    async deliveries(ctx, id, page) {
      const hook = await find(ctx.workspace.id, id);
      const found = await paginate(
        db.selectFrom('webhook_deliveries').where('webhook_id', '=', hook.id),
        (q) => q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'),
        page,
      );
      return { rows: found.rows.map(deliveryView), total: found.total };
    },

    async retry(ctx, id, deliveryId) {
      const hook = await find(ctx.workspace.id, id);
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
        await scheduleAttempt(tx, delivery, now);
      });
      return deliveryView({ ...delivery, status: 'pending', next_attempt_at: now, updated_at: now });
    },
  };
}
