import { iso, isoOrNull } from '../clock.js';
import type { ApiKeysTable, Role } from '../db/schema.js';

/** An API key as the API shows it: never its digest. */
export interface ApiKeyView {
  id: string;
  name: string;
  kind: 'personal' | 'team';
  /** A team key's fixed role, or a personal key's member's role now. */
  role: Role;
  user_id: string | null;
  hint: string;
  created_at: string;
  created_by: string;
  last_used_at: string | null;
}

export function apiKeyView(row: ApiKeysTable & { member_role: Role | null }): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    role: (row.kind === 'team' ? row.role : row.member_role) ?? 'viewer',
    user_id: row.user_id,
    hint: row.hint,
    created_at: iso(row.created_at),
    created_by: row.created_by,
    last_used_at: isoOrNull(row.last_used_at),
  };
}
