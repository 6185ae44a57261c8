import { type Kysely, sql } from 'kysely';

const GENESIS_HASH = '0'.repeat(64);

/**
 * Retention records where it cuts each audit chain (docs/audit.md#hash-chain), so that a chain
 * whose oldest entries were deleted by anything else no longer verifies.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('audit_heads')
    .addColumn('anchor_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('audit_heads')
    .addColumn('anchor_hash', 'text', (c) => c.notNull().defaultTo(GENESIS_HASH))
    .execute();
  // Until now retention left no record of its cuts, so each chain starts at its oldest remaining
  // entry, as verification assumed so far; a chain with no entry left was emptied up to its head.
  await sql`
    update audit_heads set
      anchor_seq = coalesce(
        (select min(a.seq) - 1 from audit_log a where a.workspace_id = audit_heads.workspace_id),
        audit_heads.seq),
      anchor_hash = coalesce(
        (select a.prev_hash from audit_log a where a.workspace_id = audit_heads.workspace_id
          order by a.seq limit 1),
        audit_heads.hash)
  `.execute(db);
}
