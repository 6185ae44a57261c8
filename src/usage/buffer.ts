import { sql } from 'kysely';
import type { Db, Tx } from '../db/schema.js';

const CHUNK = 250;

function* chunks(map: ReadonlyMap<string, number>): Generator<[string, number][]> {
  const entries = [...map];
  for (let i = 0; i < entries.length; i += CHUNK) yield entries.slice(i, i + CHUNK);
}

/**
 * Sets each row's timestamp column to its new value unless it already holds a later one: one
 * short statement per 250 rows (not one per row, and no long transaction holding SQLite's single
 * writer while requests wait). Runs unchanged on SQLite and PostgreSQL.
 */
async function moveForward(
  db: Db,
  table: 'api_keys' | 'tokens' | 'sessions',
  idColumn: 'id' | 'id_digest',
  column: 'last_used_at' | 'last_seen_at',
  values: ReadonlyMap<string, number>,
): Promise<void> {
  for (const chunk of chunks(values)) {
    const next = sql`case ${sql.ref(idColumn)} ${sql.join(
      chunk.map(([id, at]) => sql`when ${id} then cast(${at} as bigint)`),
      sql` `,
    )} end`;
    await sql`update ${sql.table(table)} set ${sql.ref(column)} = ${next}
      where ${sql.ref(idColumn)} in (${sql.join(chunk.map(([id]) => id))})
      and (${sql.ref(column)} is null or ${sql.ref(column)} < ${next})`.execute(db);
  }
}

/** Runs inside the flush transaction with the tokens used since the last flush (for `token.used`). */
export type TokensUsedHook = (tx: Tx, used: ReadonlyMap<string, number>) => Promise<unknown>;

/**
 * Last-use times collected in memory and written in batches, so that authenticating or verifying
 * never writes to the database synchronously (docs/tokens.md#verify, docs/tokens.md#use-and-expiry). Flushed every few seconds by the
 * server and on shutdown.
 */
export interface UsageBuffer {
  apiKeyUsed(id: string, at: number): void;
  tokenUsed(id: string, at: number): void;
  sessionSeen(digest: string, at: number): void;
  /** Writes everything collected so far; returns how many rows it touched. */
  flush(): Promise<number>;
  pending(): number;
}

export function createUsageBuffer(db: Db, onTokensUsed: TokensUsedHook = async () => {}): UsageBuffer {
  let apiKeys = new Map<string, number>();
  let tokens = new Map<string, number>();
  let sessions = new Map<string, number>();
  const latest = (map: Map<string, number>, id: string, at: number) => {
    const seen = map.get(id);
    if (seen === undefined || seen < at) map.set(id, at);
  };
  return {
    apiKeyUsed: (id, at) => latest(apiKeys, id, at),
    tokenUsed: (id, at) => latest(tokens, id, at),
    sessionSeen: (digest, at) => latest(sessions, digest, at),
    pending: () => apiKeys.size + tokens.size + sessions.size,
    async flush() {
      const keys = apiKeys;
      const used = tokens;
      const seen = sessions;
      apiKeys = new Map();
      tokens = new Map();
      sessions = new Map();
      await moveForward(db, 'api_keys', 'id', 'last_used_at', keys);
      await moveForward(db, 'tokens', 'id', 'last_used_at', used);
      await moveForward(db, 'sessions', 'id_digest', 'last_seen_at', seen);
      for (const chunk of chunks(used))
        await db.transaction().execute((tx) => onTokensUsed(tx, new Map(chunk)));
      return keys.size + used.size + seen.size;
    },
  };
}
