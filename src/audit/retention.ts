import type { Clock } from '../clock.js';
import type { Db } from '../db/schema.js';

const DAY_MS = 86_400_000;
const BATCH = 5000;

/**
 * Deletes entries older than each workspace's `audit_log_retention_days` (docs/audit.md#retention). Runs as a
 * periodic job, so one node at a time; the setting is read on every run. It deletes everything
 * before the first entry still within the retention period, in `seq` order and in batches, so
 * what remains is always an unbroken suffix of the chain (even if node clocks disagreed). Each
 * batch records, in its own transaction, the newest entry it deleted as the chain's anchor: the
 * oldest entry left must follow it, so verification tells this cut from any other deletion.
 */
export function createRetentionPurge({ db, clock }: { db: Db; clock: Clock }) {
  return async function purge(): Promise<number> {
    const workspaces = await db.selectFrom('workspaces').select(['id', 'audit_log_retention_days']).execute();
    let deleted = 0;
    for (const ws of workspaces) {
      const cutoff = clock() - ws.audit_log_retention_days * DAY_MS;
      const firstKept = await db
        .selectFrom('audit_log')
        .select((eb) => eb.fn.min('seq').as('seq'))
        .where('workspace_id', '=', ws.id)
        .where('created_at', '>=', cutoff)
        .executeTakeFirst();
      const keepFrom = firstKept?.seq == null ? Number.MAX_SAFE_INTEGER : Number(firstKept.seq);
      for (;;) {
        const batch = await db
          .selectFrom('audit_log')
          .select(['seq', 'hash'])
          .where('workspace_id', '=', ws.id)
          .where('seq', '<', keepFrom)
          .orderBy('seq', 'asc')
          .limit(BATCH)
          .execute();
        const last = batch[batch.length - 1];
        if (last === undefined) break;
        deleted += await db.transaction().execute(async (tx) => {
          // The head row first, as the recorder takes it, so a purge and an append never deadlock.
          await tx
            .updateTable('audit_heads')
            .set({ anchor_seq: Number(last.seq), anchor_hash: last.hash })
            .where('workspace_id', '=', ws.id)
            .where('anchor_seq', '<', Number(last.seq))
            .execute();
          const result = await tx
            .deleteFrom('audit_log')
            .where('workspace_id', '=', ws.id)
            .where('seq', '<=', Number(last.seq))
            .executeTakeFirst();
          return Number(result.numDeletedRows);
        });
        if (batch.length < BATCH) break;
      }
    }
    return deleted;
  };
}
