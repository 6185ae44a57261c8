import { iso, isoOrNull } from '../clock.js';
import { decodeDeliveryAttempts, decodeWebhookEvents } from '../db/json.js';
import type { DeliveryAttempt, WebhookDeliveriesTable, WebhooksTable } from '../db/schema.js';

/** An endpoint as the API shows it: its secrets (sealed or not) never leave through here. */
export interface WebhookView {
  id: string;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  created_at: string;
  updated_at: string;
  failing_since: string | null;
}

export interface DeliveryView {
  id: string;
  event_id: string;
  event: string;
  status: WebhookDeliveriesTable['status'];
  attempts: DeliveryAttempt[];
  next_attempt_at: string | null;
  created_at: string;
}

export function webhookView(hook: WebhooksTable): WebhookView {
  return {
    id: hook.id,
    url: hook.url,
    description: hook.description,
    events: decodeWebhookEvents(hook.events),
    enabled: hook.enabled === 1,
    created_at: iso(hook.created_at),
    updated_at: iso(hook.updated_at),
    failing_since: isoOrNull(hook.failing_since),
  };
}

export function deliveryView(d: WebhookDeliveriesTable): DeliveryView {
  return {
    id: d.id,
    event_id: d.event_id,
    event: d.event,
    status: d.status,
    attempts: decodeDeliveryAttempts(d.attempts),
    next_attempt_at: isoOrNull(d.next_attempt_at),
    created_at: iso(d.created_at),
  };
}
