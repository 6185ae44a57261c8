import { type Kysely, SqliteAdapter, sql } from 'kysely';

/**
 * Tokens for platforms: names are unique only among tokens that are not revoked (a partial unique
 * index on both databases), an `external_id` with its own index, and per-token limits.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const columns: Array<[string, 'text' | 'bigint' | 'integer']> = [
    // The customer or service in the caller's own system; filtered on exactly.
    ['external_id', 'text'],
    // limits.uses: what is left (null: no uses limit), and the optional refill.
    ['uses_remaining', 'bigint'],
    ['uses_refill_amount', 'bigint'],
    ['uses_refill_interval', 'text'],
    // The UTC period ('2026-11-30' or '2026-11') of the last refill: each period refills once.
    ['uses_refill_period', 'text'],
    // limits.rate (null: no rate limit of its own).
    ['rate_limit', 'bigint'],
    ['rate_window_seconds', 'integer'],
  ];
  // First, while the table is as 002 made it (SQLite appends added columns after its constraints).
  if (db.getExecutor().adapter instanceof SqliteAdapter) await rebuildSqliteTokens(db);
  else await sql`ALTER TABLE tokens DROP CONSTRAINT tokens_name`.execute(db);
  for (const [name, type] of columns) {
    await db.schema.alterTable('tokens').addColumn(name, type).execute();
  }

  await sql`CREATE UNIQUE INDEX tokens_live_name ON tokens (workspace_id, name_lower) WHERE revoked_at IS NULL`.execute(
    db,
  );
  await db.schema
    .createIndex('tokens_external_id')
    .on('tokens')
    .columns(['workspace_id', 'external_id'])
    .execute();
  // The refill job reads the tokens that have one.
  await sql`CREATE INDEX tokens_refill ON tokens (uses_refill_interval) WHERE uses_refill_interval IS NOT NULL`.execute(
    db,
  );
}

/**
 * SQLite cannot drop a table constraint: the table is rebuilt (its documented procedure, with
 * foreign keys off so dropping the old table does not cascade to the token secrets). Kysely runs
 * SQLite migrations outside a transaction on the one connection, so the pragma applies here.
 */
async function rebuildSqliteTokens(db: Kysely<unknown>): Promise<void> {
  const table = await sql<{
    sql: string;
  }>`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'tokens'`.execute(db);
  const ddl = table.rows[0]?.sql;
  if (ddl === undefined) throw new Error('tokens table not found');
  const withoutName = ddl.replace(/,\s*constraint\s+"?tokens_name"?\s+unique\s*\([^)]*\)/i, '');
  if (withoutName === ddl) throw new Error('tokens_name constraint not found in the tokens table');
  const indexes = await sql<{
    sql: string;
  }>`SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tokens' AND sql IS NOT NULL`.execute(
    db,
  );
  await sql`PRAGMA foreign_keys = OFF`.execute(db);
  try {
    await sql`BEGIN`.execute(db);
    try {
      await sql
        .raw(withoutName.replace(/^CREATE TABLE\s+"?tokens"?/i, 'CREATE TABLE "tokens_rebuilt"'))
        .execute(db);
      await sql`INSERT INTO tokens_rebuilt SELECT * FROM tokens`.execute(db);
      await sql`DROP TABLE tokens`.execute(db);
      await sql`ALTER TABLE tokens_rebuilt RENAME TO tokens`.execute(db);
      for (const index of indexes.rows) await sql.raw(index.sql).execute(db);
      const broken = await sql`PRAGMA foreign_key_check`.execute(db);
      if (broken.rows.length > 0) throw new Error('foreign keys broken by the tokens rebuild');
      await sql`COMMIT`.execute(db);
    } catch (error) {
      await sql`ROLLBACK`.execute(db);
      throw error;
    }
  } finally {
    await sql`PRAGMA foreign_keys = ON`.execute(db);
  }
}
