import type { Permission } from '../auth/permissions.js';

/** Every domain event: what the audit log records and what webhooks may subscribe to. */
export const TOKEN_EVENTS = [
  'token.created',
  'token.revoked',
  'token.rotated',
  'token.expired',
  'token.expiring',
  'token.used',
  'token.updated',
] as const;

export const AUDIT_EVENTS = [
  'token.created',
  'token.revoked',
  'token.rotated',
  'token.expired',
  'token.updated',
  'api_key.created',
  'api_key.regenerated',
  'api_key.deleted',
  'member.invited',
  'member.joined',
  'member.role_changed',
  'member.removed',
  'invitation.revoked',
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'webhook.disabled',
  'token.leaked',
  'api_key.leaked',
  'workspace.created',
  'workspace.settings_changed',
  'member.password_changed',
  'member.two_factor_changed',
] as const;

export type TokenEventName = (typeof TOKEN_EVENTS)[number];
export type EventName = TokenEventName | (typeof AUDIT_EVENTS)[number];

export const WEBHOOK_EVENTS: readonly EventName[] = [
  ...new Set<EventName>([...TOKEN_EVENTS, ...AUDIT_EVENTS]),
];

/** Token events carry the token object; they are announced by the token code, not by the audit log. */
export function isTokenEvent(event: EventName): event is TokenEventName {
  return (TOKEN_EVENTS as readonly EventName[]).includes(event);
}

/** What one must be allowed to read to receive an event (docs/webhooks.md#who-may-subscribe-to-what). */
export type EventReadPermission = Extract<Permission, 'tokens.read' | 'audit.read'>;

/**
 * Token events carry the token object, as viewing tokens shows it; every other event carries its
 * audit entry, with actors, IP addresses and user agents, as the audit log shows it.
 */
export function readPermissionOf(event: string): EventReadPermission {
  return (TOKEN_EVENTS as readonly string[]).includes(event) ? 'tokens.read' : 'audit.read';
}
