/** Built-in scopes, in the order people read them; a workspace adds its custom scopes after. */
export const BUILT_IN_SCOPES = [
  'tokens:read',
  'tokens:write',
  'tokens:revoke',
  'tokens:rotate',
  'tokens:verify',
  'audit:read',
  'webhooks:read',
  'webhooks:write',
] as const;

export const STATUSES = ['active', 'expired', 'revoked'] as const;
export type Status = (typeof STATUSES)[number];

export const STATUS_NAMES: Record<Status, string> = {
  active: 'Active',
  expired: 'Expired',
  revoked: 'Revoked',
};

/** A time in the workspace's timezone (its settings), or "Never"/"—" for none. */
export function formatTime(iso: string | null | undefined, timeZone: string, none = '—'): string {
  if (!iso) return none;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  try {
    return new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(
      date,
    );
  } catch {
    return new Intl.DateTimeFormat('en-GB', {
      dateStyle: 'medium',
      timeStyle: 'short',
      timeZone: 'UTC',
    }).format(date);
  }
}
