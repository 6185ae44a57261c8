import { decodeWebhookEvents } from '../db/json.js';
import type { Tx } from '../db/schema.js';
import type { EventOutbox } from '../events/outbox.js';
import { tokenView } from './view.js';

/**
 * `token.used` for endpoints that opted in (docs/tokens.md#use-and-expiry): called by the usage buffer's batched flush,
 * never on the verify path. One event per token per flush, carrying the latest use.
 */
export async function emitTokensUsed(
  outbox: EventOutbox,
  tx: Tx,
  used: ReadonlyMap<string, number>,
): Promise<number> {
  if (used.size === 0) return 0;
  const hooks = await tx
    .selectFrom('webhooks')
    .select(['workspace_id', 'events'])
    .where('enabled', '=', 1)
    .execute();
  const listening = new Set(
    hooks.filter((h) => decodeWebhookEvents(h.events).includes('token.used')).map((h) => h.workspace_id),
  );
  if (listening.size === 0) return 0;
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
}
