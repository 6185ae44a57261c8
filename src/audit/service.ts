import type { Actor } from '../auth/principal.js';
import { type Clock, iso } from '../clock.js';
import { type AuditChanges, decodeAuditChanges } from '../db/json.js';
import type { AuditLogTable, Tx } from '../db/schema.js';
import { type EventName, isTokenEvent } from '../events/catalog.js';
import type { EventOutbox } from '../events/outbox.js';
import { newId } from '../ids.js';
import { type ChainedFields, chainHash, GENESIS_HASH } from './chain.js';
import { localTimeFormatter } from './local-time.js';

export interface Target {
  type: string;
  id: string;
  name: string | null;
}

/** Where a change came from: copied into its audit entry. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export const SYSTEM_META: RequestMeta = { ip: null, userAgent: null, requestId: null };

export type Changes = AuditChanges;

export interface AuditInput {
  workspaceId: string;
  event: EventName;
  actor: Actor;
  target: Target | null;
  changes?: Changes | null;
  meta: RequestMeta;
}

export interface AuditService {
  /** Appends an entry inside the caller's transaction, extending the workspace's hash chain. */
  record(tx: Tx, input: AuditInput): Promise<string>;
}

/** The fields that form an entry as the API shows it and as the chain hashes it. */
export function chainedFields(row: AuditLogTable): ChainedFields {
  const actor: Actor = { type: row.actor_type, id: row.actor_id, name: row.actor_name };
  if (row.actor_user_id !== null) actor.user_id = row.actor_user_id;
  return {
    id: row.id,
    event: row.event,
    created_at: iso(row.created_at),
    actor,
    target:
      row.target_id === null ? null : { type: row.target_type, id: row.target_id, name: row.target_name },
    changes: decodeAuditChanges(row.changes),
    ip: row.ip,
    user_agent: row.user_agent,
    request_id: row.request_id,
  };
}

/**
 * Text as both databases store it: a lone UTF-16 surrogate becomes U+FFFD. The API refuses such
 * text at its boundary; this covers text from anywhere else, so that an entry is hashed, stored,
 * shown and sent to webhooks as exactly the same text, and verifies when read back.
 */
const stored = (text: string | null): string | null => text?.toWellFormed() ?? null;

const storedChanges = (changes: Changes): string =>
  JSON.stringify(changes, (_key, value: unknown) =>
    typeof value === 'string' ? value.toWellFormed() : value,
  );

export function createAuditService({ clock, outbox }: { clock: Clock; outbox: EventOutbox }): AuditService {
  return {
    async record(tx, input) {
      // Bumping the head row takes its lock (PostgreSQL) inside the transaction, so appends to one
      // workspace's chain are serialised and the chain never forks. SQLite has a single writer.
      let head = await tx
        .updateTable('audit_heads')
        .set((eb) => ({ seq: eb('seq', '+', 1) }))
        .where('workspace_id', '=', input.workspaceId)
        .returning(['seq', 'hash'])
        .executeTakeFirst();
      if (head === undefined) {
        head = { seq: 1, hash: GENESIS_HASH };
        await tx
          .insertInto('audit_heads')
          .values({ workspace_id: input.workspaceId, ...head, anchor_seq: 0, anchor_hash: GENESIS_HASH })
          .execute();
      }
      const row: AuditLogTable = {
        id: newId('aud'),
        workspace_id: input.workspaceId,
        seq: Number(head.seq),
        event: input.event,
        created_at: clock(),
        actor_type: input.actor.type,
        actor_id: stored(input.actor.id),
        actor_name: stored(input.actor.name),
        actor_user_id: stored(input.actor.user_id ?? null),
        target_type: stored(input.target?.type ?? null),
        target_id: stored(input.target?.id ?? null),
        target_name: stored(input.target?.name ?? null),
        changes: input.changes ? storedChanges(input.changes) : null,
        ip: stored(input.meta.ip),
        user_agent: stored(input.meta.userAgent),
        request_id: stored(input.meta.requestId),
        prev_hash: head.hash,
        hash: '',
      };
      const fields = chainedFields(row);
      row.hash = chainHash(head.hash, fields);
      await tx.insertInto('audit_log').values(row).execute();
      // Audit events are webhook events too (docs/audit.md#events); token events carry the token instead.
      if (!isTokenEvent(input.event)) {
        // The entry as the API shows it (docs/audit.md#entries), `created_at_local` in the workspace's timezone.
        const workspace = await tx
          .selectFrom('workspaces')
          .select('timezone')
          .where('id', '=', input.workspaceId)
          .executeTakeFirst();
        const local = localTimeFormatter(workspace?.timezone ?? 'UTC')(row.created_at);
        await outbox.emit(tx, {
          workspaceId: input.workspaceId,
          event: input.event,
          data: { ...fields, created_at_local: local, hash: row.hash, prev_hash: row.prev_hash },
          at: row.created_at,
        });
      }
      await tx
        .updateTable('audit_heads')
        .set({ hash: row.hash })
        .where('workspace_id', '=', input.workspaceId)
        .execute();
      return row.id;
    },
  };
}

/** `{field: {from, to}}` for every field of `next` whose value differs from `prev` (null if none). */
export function diffFields<T extends Record<string, unknown>>(prev: T, next: Partial<T>): Changes | null {
  const changes: Changes = {};
  for (const [field, to] of Object.entries(next)) {
    if (to === undefined) continue;
    const from = prev[field];
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[field] = { from, to };
  }
  return Object.keys(changes).length > 0 ? changes : null;
}
