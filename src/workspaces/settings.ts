import type { Workspace } from '../auth/context.js';

/** A workspace's settings as the API shows them (times as epoch ms until the view). */
export interface Settings {
  id: string;
  name: string;
  slug: string;
  timezone: string;
  default_token_expiration_days: number | null;
  audit_log_retention_days: number;
  custom_scopes: string[];
  leak_policy: 'revoke' | 'notify';
  created_at: number;
}

/** The settings of a workspace row, its custom scopes decoded. */
export function settingsOf(ws: Workspace): Settings {
  return { ...ws, custom_scopes: JSON.parse(ws.custom_scopes) as string[] };
}
