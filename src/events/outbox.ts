import type { Tx } from '../db/schema.js';
import { newId } from '../ids.js';
import type { EventName } from './catalog.js';

/** A domain event as written to the outbox. */
export interface OutboxEvent {
  id: string;
  workspaceId: string;
  event: EventName;
  data: Record<string, unknown>;
  at: number;
}

/**
 * Runs inside the transaction of the change, so whatever it writes (the job that fans an event out
 * to webhooks) exists exactly when the change committed. It should cost the same whatever it
 * serves: it runs on the request path. Subscribers are wired by the composition root, so the outbox
 * knows none of them.
 */
export type OutboxSubscriber = (tx: Tx, event: OutboxEvent) => Promise<unknown>;

export interface EventOutbox {
  /** Appends an event inside the transaction of its change and hands it to every subscriber there. */
  emit(tx: Tx, input: Omit<OutboxEvent, 'id'>): Promise<string>;
}

export function createEventOutbox(subscribers: readonly OutboxSubscriber[]): EventOutbox {
  return {
    async emit(tx, input) {
      const event: OutboxEvent = { id: newId('evt'), ...input };
      await tx
        .insertInto('outbox_events')
        .values({
          id: event.id,
          workspace_id: event.workspaceId,
          event: event.event,
          payload: JSON.stringify(event.data),
          created_at: event.at,
        })
        .execute();
      for (const subscriber of subscribers) await subscriber(tx, event);
      return event.id;
    },
  };
}
