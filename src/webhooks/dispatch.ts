import { iso } from '../clock.js';
import { decodeJson, decodeWebhookEvents, isJsonObject } from '../db/json.js';
import type { Db, Executor, WebhookDeliveriesTable } from '../db/schema.js';
import type { OutboxEvent } from '../events/outbox.js';
import { newId } from '../ids.js';
import { enqueueJob } from '../jobs/queue.js';
import type { JobHandler } from '../jobs/runner.js';

export const DELIVER_JOB = 'webhook.deliver' as const;
export const FAN_OUT_JOB = 'webhook.fan-out' as const;

/**
 * The outbox's subscriber, inside the transaction of the change: one fan-out job per event, and
 * only when the workspace has an enabled endpoint that may list it. Its cost does not grow with the
 * number of endpoints; the job expands the event into deliveries after the commit, and exists
 * exactly when the change committed, so a crash loses no event.
 */
export async function queueFanOut(tx: Executor, event: OutboxEvent): Promise<void> {
  const listening = await tx
    .selectFrom('webhooks')
    .select('id')
    .where('workspace_id', '=', event.workspaceId)
    .where('enabled', '=', 1)
    // A cheap filter on the stored JSON list (`_` may match any character: at worst a fan-out finds no target).
    .where('events', 'like', `%"${event.event}"%`)
    .limit(1)
    .executeTakeFirst();
  if (listening === undefined) return;
  await enqueueJob(tx, event.at, {
    kind: FAN_OUT_JOB,
    payload: { eventId: event.id },
    runAt: event.at,
    workspaceId: event.workspaceId,
    // A workspace's events fan out in the order they happened, so its deliveries are queued in that order.
    lane: `events:${event.workspaceId}`,
  });
}

/**
 * The `webhook.fan-out` job: one delivery (and its first attempt) per enabled endpoint of the
 * workspace that lists the event. Marking the event dispatched in the same transaction makes a
 * second run (after a crash, or a lapsed lease) a no-op.
 */
export function createFanOut(deps: { db: Db; clock: () => number }): JobHandler {
  return async (payload) => {
    if (!isJsonObject(payload) || typeof payload.eventId !== 'string') return;
    const eventId = payload.eventId;
    await deps.db.transaction().execute(async (tx) => {
      const marked = await tx
        .updateTable('outbox_events')
        .set({ dispatched_at: deps.clock() })
        .where('id', '=', eventId)
        .where('dispatched_at', 'is', null)
        .executeTakeFirst();
      // Already fanned out, or gone with its workspace.
      if (Number(marked.numUpdatedRows) === 0) return;
      const event = await tx
        .selectFrom('outbox_events')
        .selectAll()
        .where('id', '=', eventId)
        .executeTakeFirstOrThrow();
      await dispatchEvent(tx, {
        id: event.id,
        workspaceId: event.workspace_id,
        event: event.event,
        data: decodeJson(event.payload, 'outbox event payload'),
        at: event.created_at,
      });
    });
  };
}

/**
 * Queues one delivery of the event per enabled endpoint that lists it. The body is fixed here, so
 * every attempt sends (and signs) the same bytes with the same event id.
 */
async function dispatchEvent(
  tx: Executor,
  input: { id: string; workspaceId: string; event: string; data: unknown; at: number },
): Promise<number> {
  const hooks = await tx
    .selectFrom('webhooks')
    .select(['id', 'events'])
    .where('workspace_id', '=', input.workspaceId)
    .where('enabled', '=', 1)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const targets = hooks.filter((hook) => decodeWebhookEvents(hook.events).includes(input.event));
  if (targets.length === 0) return 0;
  const workspace = await tx
    .selectFrom('workspaces')
    .select(['id', 'slug'])
    .where('id', '=', input.workspaceId)
    .executeTakeFirstOrThrow();
  const body = JSON.stringify({
    id: input.id,
    event: input.event,
    timestamp: iso(input.at),
    workspace: { id: workspace.id, slug: workspace.slug },
    data: input.data,
  });
  for (const hook of targets)
    await queueDelivery(tx, {
      webhookId: hook.id,
      workspaceId: input.workspaceId,
      eventId: input.id,
      event: input.event,
      body,
      at: input.at,
    });
  return targets.length;
}

export async function queueDelivery(
  tx: Executor,
  input: { webhookId: string; workspaceId: string; eventId: string; event: string; body: string; at: number },
): Promise<string> {
  const id = newId('dlv');
  await tx
    .insertInto('webhook_deliveries')
    .values({
      id,
      webhook_id: input.webhookId,
      workspace_id: input.workspaceId,
      event_id: input.eventId,
      event: input.event,
      body: input.body,
      status: 'pending',
      attempts: '[]',
      attempt_count: 0,
      next_attempt_at: input.at,
      created_at: input.at,
      updated_at: input.at,
    })
    .execute();
  await scheduleAttempt(tx, { id, webhook_id: input.webhookId, workspace_id: input.workspaceId }, input.at);
  return id;
}

/**
 * A job for one attempt; it carries its due time, so a superseded job (after a manual retry) skips.
 * An endpoint's attempts share a lane: one at a time, in the order they fall due.
 */
export async function scheduleAttempt(
  tx: Executor,
  delivery: Pick<WebhookDeliveriesTable, 'id' | 'webhook_id' | 'workspace_id'>,
  due: number,
): Promise<void> {
  await enqueueJob(tx, due, {
    kind: DELIVER_JOB,
    payload: { deliveryId: delivery.id, due },
    runAt: due,
    maxAttempts: 5,
    workspaceId: delivery.workspace_id,
    lane: `webhook:${delivery.webhook_id}`,
  });
}
