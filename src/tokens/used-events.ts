import { decodeWebhookEvents } from '../db/json.js';
import type { Db, Tx } from '../db/schema.js';
import type { EventOutbox } from '../events/outbox.js';
import type { TokensUsedEvents } from '../usage/buffer.js';
import { tokenView } from './view.js';

/**
 * `token.used` for endpoints that opted in (docs/tokens.md#use-and-expiry): called by the usage
 * buffer's batched flush, never on the verify path. One event per token per flush, carrying the
 * latest use. Who listens is read once per flush; most flushes find nobody and open no transaction.
 */
export function createTokensUsedEvents(outbox: EventOutbox): TokensUsedEvents {
  return {
    async listening(db: Db) {
      const hooks = await db
        .selectFrom('webhooks')
        .select(['workspace_id', 'events'])
        .where('enabled', '=', 1)
        .execute();
      return new Set(
        hooks.filter((h) => decodeWebhookEvents(h.events).includes('token.used')).map((h) => h.workspace_id),
      );
    },
    async emit(tx: Tx, used: ReadonlyMap<string, number>, listening: ReadonlySet<string>) {
      if (used.size === 0 || listening.size === 0) return 0;
      const rows = await tx
        .selectFrom('tokens')
        .selectAll()
        .where('id', 'in', [...used.keys()])
        .where('workspace_id', 'in', [...listening])
        .execute();
      for (const row of rows) {
        const at = used.get(row.id) ?? row.created_at;
        await outbox.emit(tx, {
          workspaceId: row.workspace_id,
          event: 'token.used',
          data: { ...tokenView({ ...row, last_used_at: at }, at), used_at: new Date(at).toISOString() },
          at,
        });
      }
      return rows.length;
    },
  };
}
