import { iso } from '../clock.js';
import { decodeWebhookEvents } from '../db/json.js';
import type { Executor } from '../db/schema.js';
import type { OutboxEvent } from '../events/outbox.js';
import { newId } from '../ids.js';
import { enqueueJob } from '../jobs/runner.js';

export const DELIVER_JOB = 'webhook.deliver' as const;

/**
 * Fans one event out to the workspace's enabled endpoints that list it, inside the transaction of
 * the change: each delivery and its first job exist exactly when the change committed. The body is
 * fixed here, so every attempt sends (and signs) the same bytes with the same event id.
 */
export async function dispatchEvent(tx: Executor, input: OutboxEvent): Promise<number> {
  const hooks = await tx
    .selectFrom('webhooks')
    .select(['id', 'events'])
    .where('workspace_id', '=', input.workspaceId)
    .where('enabled', '=', 1)
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
  await scheduleAttempt(tx, id, input.at);
  return id;
}

/** A job for one attempt; it carries its due time, so a superseded job (after a manual retry) skips. */
export async function scheduleAttempt(tx: Executor, deliveryId: string, due: number): Promise<void> {
  await enqueueJob(tx, due, { kind: DELIVER_JOB, payload: { deliveryId, due }, runAt: due, maxAttempts: 5 });
}
