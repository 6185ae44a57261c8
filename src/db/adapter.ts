import type { CompiledQuery, KyselyConfig } from 'kysely';
import type { OnTightened } from '../private-files.js';
import type { Db } from './schema.js';

export type DialectName = 'sqlite' | 'postgres';

/** A query that can lock the rows it reads (Kysely's select builder). */
export interface Lockable<QB> {
  forUpdate(): { skipLocked(): QB };
}

/**
 * Every way SQLite and PostgreSQL differ that code above `src/db/` has to know, named in one
 * object, after Kysely's `DialectAdapter`. It holds no connection, so it is one constant per dialect.
 */
export interface DialectAdapter {
  readonly name: DialectName;
  /** Several nodes may share the database, so caches and limits must hear of each other's changes. */
  readonly clustered: boolean;
  /**
   * How long a cached entry may live. Invalidation is pushed to every node; the TTL bounds how long
   * a node could serve stale state should a push be lost.
   */
  readonly cacheTtlMs: number;
  /** True when `error` is a unique or primary-key violation. */
  isUniqueViolation(error: unknown): boolean;
  /**
   * True when `error` says the database cannot be reached or cannot take the statement right now
   * (connection refused, ended or timed out; locked or full), as opposed to a fault in the
   * statement: the request may succeed if retried later.
   */
  isUnavailable(error: unknown): boolean;
  /** Makes concurrent claimers (job runners on several nodes) take disjoint rows. */
  lockForClaim<QB extends Lockable<QB>>(qb: QB): QB;
}

/** The adapter of an open database: its dialect, and what a notifier needs to listen to it. */
export interface DatabaseAdapter extends DialectAdapter {
  /** Where a LISTEN connection for other nodes' notices connects; null where there are no other nodes. */
  readonly listenUrl: string | null;
}

/** A connection pool's state now (for /metrics). */
export interface PoolStats {
  /** Open connections, idle or busy. */
  readonly total: number;
  readonly idle: number;
  /** Callers waiting for a connection: the pool is exhausted while this is above 0. */
  readonly waiting: number;
  readonly max: number;
}

/** A table's last-use column, as `table.idColumn.column`. */
export type LastUseTarget =
  | 'api_keys.id.last_used_at'
  | 'tokens.id.last_used_at'
  | 'sessions.id_digest.last_seen_at';

/**
 * Writes batches of last-use times away from the request path (an SQLite file: a worker thread
 * with its own connection). Each row's time only moves forward.
 */
export interface LastUseWriter {
  /** `values`: time by id (ids hold no line break). */
  moveForward(target: LastUseTarget, values: ReadonlyMap<string, number>): Promise<void>;
  close(): Promise<void>;
}

/**
 * Runs a read at once, on the calling thread, where the database allows it: SQLite's one
 * connection while no transaction is open on it. `undefined` when it cannot now; the caller then
 * runs the query through Kysely, which waits its turn (and so never sees another caller's
 * uncommitted writes).
 */
export type ReadNow = (query: CompiledQuery) => readonly unknown[] | undefined;

export interface OpenedDatabase {
  readonly db: Db;
  readonly adapter: DatabaseAdapter;
  /** Null where there is no pool (SQLite has one connection). */
  readonly poolStats: (() => PoolStats) | null;
  /** Null where Kysely's own connection writes them (PostgreSQL, an in-memory SQLite database). */
  readonly lastUseWriter: LastUseWriter | null;
  /** Null where every query must wait for a connection (PostgreSQL). */
  readonly readNow: ReadNow | null;
}

export interface ConnectOptions {
  /** Kysely's query log, when a caller watches statements. */
  readonly log?: KyselyConfig['log'];
  /** A pooled connection the server ended; the pool connects anew on next use. */
  readonly onError: (error: unknown) => void;
}

export interface SqliteConnectOptions extends Pick<ConnectOptions, 'log'> {
  /** Told the SQL of the statements the last-use writer runs outside Kysely. */
  readonly onQuery?: (sql: string) => void;
  /** How long a write waits for another connection's write lock before SQLITE_BUSY. */
  readonly busyTimeoutMs: number;
  /** Reports a database file that had a wider mode than 0600 and was tightened. */
  readonly onTightened: OnTightened;
}

export interface PostgresConnectOptions extends ConnectOptions {
  /** How long a query waits for a connection (new or from the pool) before failing. */
  readonly connectTimeoutMs: number;
}
