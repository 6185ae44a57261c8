import { sql } from 'kysely';
import type { LastUseTarget, LastUseWriter } from '../db/database.js';
import type { Db, Tx } from '../db/schema.js';

/** Rows per UPDATE statement, and per transaction (a few statements, one commit). */
const CHUNK = 250;
const TRANSACTION_ROWS = 1_000;

/** `entries` in slices of `size`. */
function* slices<T>(entries: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < entries.length; i += size) yield entries.slice(i, i + size);
}

/**
 * Lets the event loop run between two batches. better-sqlite3 writes synchronously and Kysely
 * chains its queries through promises only, so without this a whole flush (thousands of rows,
 * hundreds of milliseconds of writing) ran as one uninterrupted task: no request was read or
 * answered until it ended (see BENCHMARKS.md).
 */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Sets each row's timestamp column to its new value unless it already holds a later one. Through
 * the database's own last-use writer where it has one (an SQLite file: a worker thread); else in
 * id order (so that two nodes flushing the same rows on PostgreSQL lock them in the same order),
 * one statement per 250 rows, one transaction per 1,000 (one commit per batch, not per
 * statement), yielding to the event loop between transactions.
 */
async function moveForward(
  db: Db,
  writer: LastUseWriter | null,
  target: LastUseTarget,
  values: ReadonlyMap<string, number>,
): Promise<void> {
  if (values.size === 0) return;
  if (writer !== null) return writer.moveForward(target, values);
  const entries = [...values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const [table, idColumn, column] = target.split('.') as [string, string, string];
  for (const batch of slices(entries, TRANSACTION_ROWS)) {
    await db.transaction().execute(async (tx) => {
      for (const chunk of slices(batch, CHUNK)) {
        const next = sql`case ${sql.ref(idColumn)} ${sql.join(
          chunk.map(([id, at]) => sql`when ${id} then cast(${at} as bigint)`),
          sql` `,
        )} end`;
        await sql`update ${sql.table(table)} set ${sql.ref(column)} = ${next}
          where ${sql.ref(idColumn)} in (${sql.join(chunk.map(([id]) => id))})
          and (${sql.ref(column)} is null or ${sql.ref(column)} < ${next})`.execute(tx);
      }
    });
    await yieldToEventLoop();
  }
}

/** `token.used` events for the tokens used since the last flush. */
export interface TokensUsedEvents {
  /** The workspaces that listen for them now: read once per flush. */
  listening(db: Db): Promise<ReadonlySet<string>>;
  /** Emits them for one chunk of used tokens, inside the chunk's transaction. */
  emit(tx: Tx, used: ReadonlyMap<string, number>, listening: ReadonlySet<string>): Promise<unknown>;
}

const noEvents: TokensUsedEvents = { listening: async () => new Set(), emit: async () => 0 };

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

export function createUsageBuffer(
  db: Db,
  tokensUsed: TokensUsedEvents = noEvents,
  writer: LastUseWriter | null = null,
): UsageBuffer {
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
      await moveForward(db, writer, 'api_keys.id.last_used_at', keys);
      await moveForward(db, writer, 'tokens.id.last_used_at', used);
      await moveForward(db, writer, 'sessions.id_digest.last_seen_at', seen);
      // One transaction per chunk of events, and none at all when no workspace listens (most
      // flushes): each would hold the SQLite connection's lock and queue the reads behind it.
      const listening = used.size === 0 ? new Set<string>() : await tokensUsed.listening(db);
      if (listening.size > 0) {
        for (const chunk of slices([...used], CHUNK)) {
          await db.transaction().execute((tx) => tokensUsed.emit(tx, new Map(chunk), listening));
          await yieldToEventLoop();
        }
      }
      return keys.size + used.size + seen.size;
    },
  };
}
