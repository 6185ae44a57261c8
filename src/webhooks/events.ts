/** Events a webhook may subscribe to (SPEC §9.1). */
export const TOKEN_EVENTS = [
  'token.created',
  'token.revoked',
  'token.rotated',
  'token.expired',
  'token.expiring',
  'token.used',
] as const;

export const AUDIT_EVENTS = [
  'token.created',
  'token.revoked',
  'token.rotated',
  'token.expired',
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
] as const;

export const WEBHOOK_EVENTS: readonly string[] = [...new Set<string>([...TOKEN_EVENTS, ...AUDIT_EVENTS])];

/** Token events carry the token object; they are announced by the token code, not by the audit log. */
export function isTokenEvent(event: string): boolean {
  return (TOKEN_EVENTS as readonly string[]).includes(event);
}
