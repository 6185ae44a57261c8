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
  /** `ses_…`: what the API shows and names; never the secret or its digest. */
  public_id: string;
  user_agent: string | null;
  ip: string | null;
}

/** A user's TOTP two-factor: pending until `confirmed_at` is set. */
export interface TwoFactorTable {
  user_id: string;
  /** The base32 TOTP secret, sealed under the server key. */
  secret_sealed: string;
  confirmed_at: number | null;
  /** The last accepted TOTP time-step: a code is accepted once. */
  last_step: number | null;
  created_at: number;
}

export interface RecoveryCodesTable {
  /** SHA-256 of the normalised code. */
  digest: string;
  user_id: string;
  used_at: number | null;
}

export interface LoginChallengesTable {
  /** SHA-256 of the challenge handed to the client. */
  digest: string;
  user_id: string;
  failures: number;
  expires_at: number;
}

export interface PasswordResetsTable {
  id: string;
  user_id: string;
  digest: string;
  /** The link secret sealed under the server key until its email is sent; null otherwise. */
  secret_sealed: string | null;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

/** One row per failed login and dimension: counted by email and by IP separately. */
export interface LoginFailuresTable {
  id: string;
  /** `reset_*`: password-reset requests, counted apart from sign-in failures. */
  kind: 'email' | 'ip' | 'reset_email' | 'reset_ip';
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
  /**
   * Members must have two-factor on to use the workspace through a dashboard session. Optional
   * on insert only (the column defaults to 0); every read returns it.
   */
  require_two_factor?: 0 | 1;
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
  /** The inviter's email, and their user id. */
  invited_by: string;
  invited_by_id: string | null;
  created_at: number;
  /** The link secret sealed under the server key while pending; null afterwards. */
  secret_sealed: string | null;
  /** When it was accepted, revoked or replaced. */
  ended_at: number | null;
}

export interface EmailsTable {
  id: string;
  workspace_id: string | null;
  kind: 'invitation' | 'password_reset';
  /** The object the message is about (an invitation or password-reset id); the body is rendered from it at send time. */
  ref_id: string;
  to_address: string;
  /** `not_sent`: no SMTP configured (the link is shown to Owners instead); `cancelled`: moot. */
  status: 'pending' | 'sent' | 'failed' | 'not_sent' | 'cancelled';
  attempts: number;
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
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
  /**
   * Where retention last cut the chain: the `seq` and `hash` of the newest entry it deleted (0 and
   * the genesis hash until it first does). The oldest retained entry must follow it.
   */
  anchor_seq: number;
  anchor_hash: string;
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

export interface TokensTable {
  id: string;
  workspace_id: string;
  name: string;
  name_lower: string;
  /** JSON array of scope strings. */
  scopes: string;
  /** JSON object. */
  metadata: string;
  hint: string;
  created_at: number;
  created_by: string;
  created_by_id: string;
  expires_at: number | null;
  revoked_at: number | null;
  rotated_at: number | null;
  last_used_at: number | null;
  /** When the one `token.expired` entry was written (exactly once). */
  expired_recorded_at: number | null;
  /** When the 7-day / 1-day `token.expiring` event was emitted (or skipped: set at creation). */
  expiring_7d_at: number | null;
  expiring_1d_at: number | null;
  external_id: string | null;
  /** limits.uses: uses left, or null when the token has no uses limit. */
  uses_remaining: number | null;
  uses_refill_amount: number | null;
  uses_refill_interval: 'day' | 'month' | null;
  /** The UTC period ('2026-11-30' / '2026-11') last refilled, so each period refills once. */
  uses_refill_period: string | null;
  /** limits.rate, or null when the token has no rate limit of its own. */
  rate_limit: number | null;
  rate_window_seconds: number | null;
}

export interface TokenSecretsTable {
  digest: string;
  token_id: string;
  /** Null while current; the end of the grace period for a secret retired by rotation. */
  retires_at: number | null;
}

export interface JobsTable {
  id: string;
  kind: string;
  /** JSON. */
  payload: string;
  /** Periodic jobs and de-duplicated one-offs carry a unique key. */
  unique_key: string | null;
  status: 'pending' | 'running' | 'done' | 'dead';
  run_at: number;
  attempts: number;
  max_attempts: number;
  locked_by: string | null;
  locked_until: number | null;
  /** Random per claim: only the run holding it may renew or finish the job. */
  lease_token: string | null;
  /** The workspace the job works for (null for installation-wide jobs): the unit of fairness. */
  workspace_id: string | null;
  /** Jobs sharing a lane run one at a time, oldest first (null: no ordering). */
  lane: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface OutboxEventsTable {
  id: string;
  workspace_id: string;
  event: string;
  /** JSON: the event's `data`. */
  payload: string;
  created_at: number;
  /** When the event was expanded into webhook deliveries; null until then. */
  dispatched_at: number | null;
}

export interface WebhooksTable {
  id: string;
  workspace_id: string;
  url: string;
  description: string;
  /** JSON array of event names. */
  events: string;
  enabled: 0 | 1;
  secret_sealed: string;
  /** The secret before the last rotation, still signing alongside until `previous_secret_until`. */
  previous_secret_sealed: string | null;
  previous_secret_until: number | null;
  /** Start of the current run of failed deliveries; null while healthy. */
  failing_since: number | null;
  created_at: number;
  updated_at: number;
}

export interface DeliveryAttempt {
  at: string;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  response_excerpt: string | null;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  workspace_id: string;
  event_id: string;
  event: string;
  /** The exact JSON body sent (and signed) on every attempt. */
  body: string;
  status: 'pending' | 'succeeded' | 'failed';
  /** JSON array of DeliveryAttempt. */
  attempts: string;
  attempt_count: number;
  next_attempt_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  two_factor: TwoFactorTable;
  recovery_codes: RecoveryCodesTable;
  login_challenges: LoginChallengesTable;
  password_resets: PasswordResetsTable;
  login_failures: LoginFailuresTable;
  workspaces: WorkspacesTable;
  members: MembersTable;
  invitations: InvitationsTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  audit_heads: AuditHeadsTable;
  idempotency_keys: IdempotencyKeysTable;
  rate_limits: RateLimitsTable;
  tokens: TokensTable;
  token_secrets: TokenSecretsTable;
  jobs: JobsTable;
  outbox_events: OutboxEventsTable;
  emails: EmailsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
}

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
/** Either the database or a transaction: what a query helper runs on. */
export type Executor = Kysely<Database> | Transaction<Database>;
