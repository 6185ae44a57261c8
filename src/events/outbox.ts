import type { Tx } from '../db/schema.js';
import { newId } from '../ids.js';
import { dispatchEvent } from '../webhooks/dispatch.js';

/**
 * Appends a domain event inside the transaction of its change, so an event exists if and only if
 * its change committed. Its webhook deliveries are queued in the same transaction.
 */
export async function emitEvent(
  tx: Tx,
  input: { workspaceId: string; event: string; data: Record<string, unknown>; at: number },
): Promise<string> {
  const id = newId('evt');
  await tx
    .insertInto('outbox_events')
    .values({
      id,
      workspace_id: input.workspaceId,
      event: input.event,
      payload: JSON.stringify(input.data),
      created_at: input.at,
    })
    .execute();
  await dispatchEvent(tx, {
    workspaceId: input.workspaceId,
    eventId: id,
    event: input.event,
    data: input.data,
    at: input.at,
  });
  return id;
}
