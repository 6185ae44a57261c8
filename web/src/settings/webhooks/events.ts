import type { components } from '@tooken/client';

/** An event a webhook may carry, as the API's schema names them. */
export type WebhookEvent = components['schemas']['CreateWebhookRequest']['events'][number];

/** Token events, then every audit event; `token.used` is opt-in (sent only when listed). */
export const WEBHOOK_EVENTS = [
  'token.created',
  'token.revoked',
  'token.rotated',
  'token.updated',
  'token.expired',
  'token.expiring',
  'token.used',
  'token.leaked',
  'api_key.created',
  'api_key.regenerated',
  'api_key.deleted',
  'api_key.leaked',
  'member.invited',
  'member.joined',
  'member.role_changed',
  'member.removed',
  'member.password_changed',
  'member.two_factor_changed',
  'invitation.revoked',
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'webhook.disabled',
  'workspace.created',
  'workspace.settings_changed',
] as const satisfies readonly WebhookEvent[];

/** Fails compilation when the API gains an event this list lacks. */
export const EVENTS_COMPLETE: [Exclude<WebhookEvent, (typeof WEBHOOK_EVENTS)[number]>] extends [never]
  ? true
  : false = true;

/** Events that are announced to webhooks but never written to the audit log. */
const NOT_AUDITED: readonly string[] = ['token.expiring', 'token.used'];

/** The audit log's events, for its filter. */
export const AUDIT_EVENTS = WEBHOOK_EVENTS.filter((event) => !NOT_AUDITED.includes(event));

/** Events that need audit access to carry (everything but token events). */
export const isTokenEvent = (event: string) => event.startsWith('token.') && event !== 'token.leaked';
