import type { Kysely, Transaction } from 'kysely';

/**
 * Row types: the single source of truth for the tables. Portable types only: text ids,
 * timestamps as integer epoch milliseconds, booleans as 0/1, JSON as text.
 */

export type Role = 'owner' | 'admin' | 'viewer';

export interface UsersTable {
  id: string;
  email: string;
  name: string | null;
  password_hash: string;
  created_at: number;
}

export interface SessionsTable {
  /** SHA-256 of the cookie secret. */
  id_digest: string;
  user_id: string;
  created_at: number;
  last_seen_at: number;
}

/** One row per failed login and dimension: counted by email and by IP separately. */
export interface LoginFailuresTable {
  id: string;
  kind: 'email' | 'ip';
  subject: string;
  at: number;
}

export interface WorkspacesTable {
  id: string;
  name: string;
  slug: string;
  timezone: string;
  default_token_expiration_days: number | null;
  audit_log_retention_days: number;
  /** JSON array of strings. */
  custom_scopes: string;
  leak_policy: 'revoke' | 'notify';
  created_at: number;
}

export interface MembersTable {
  workspace_id: string;
  user_id: string;
  role: Role;
  joined_at: number;
}

export interface InvitationsTable {
  id: string;
  workspace_id: string;
  email: string;
  role: Role;
  digest: string;
  status: 'pending' | 'accepted' | 'revoked' | 'replaced';
  expires_at: number;
  invited_by: string;
  created_at: number;
}

export interface ApiKeysTable {
  id: string;
  workspace_id: string;
  name: string;
  name_lower: string;
  kind: 'personal' | 'team';
  /** The fixed role of a team key; null for personal keys, which act with their member's role. */
  role: Role | null;
  user_id: string | null;
  digest: string;
  hint: string;
  created_at: number;
  created_by: string;
  created_by_id: string;
  last_used_at: number | null;
}

export interface AuditLogTable {
  id: string;
  workspace_id: string;
  /** Position in the workspace's hash chain (1, 2, …): the order of appends. */
  seq: number;
  event: string;
  created_at: number;
  actor_type: 'user' | 'api_key' | 'token' | 'system';
  actor_id: string | null;
  actor_name: string | null;
  actor_user_id: string | null;
  target_type: string | null;
  target_id: string | null;
  target_name: string | null;
  /** JSON object `{field: {from, to}}` or null. */
  changes: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  prev_hash: string;
  hash: string;
}

/** One row per workspace: the head of its audit hash chain. Updating it serialises appends. */
export interface AuditHeadsTable {
  workspace_id: string;
  seq: number;
  hash: string;
}

export interface IdempotencyKeysTable {
  /** SHA-256 of the calling credential (or session): keys never cross callers. */
  scope: string;
  key: string;
  fingerprint: string;
  state: 'pending' | 'done';
  status_code: number | null;
  /** AES-256-GCM of the response body under a key derived from the caller's own secret. */
  response: string | null;
  created_at: number;
}

export interface RateLimitsTable {
  key: string;
  window_start: number;
  count: number;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  login_failures: LoginFailuresTable;
  workspaces: WorkspacesTable;
  members: MembersTable;
  invitations: InvitationsTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  audit_heads: AuditHeadsTable;
  idempotency_keys: IdempotencyKeysTable;
  rate_limits: RateLimitsTable;
}

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
/** Either the database or a transaction: what a query helper runs on. */
export type Executor = Kysely<Database> | Transaction<Database>;
