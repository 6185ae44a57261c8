import { type LogEvent, Migrator, sql } from 'kysely';
import type { OnTightened } from '../private-files.js';
import type { DatabaseAdapter, LastUseWriter, PoolStats, ReadNow } from './adapter.js';
import { openPostgres, postgresDialect } from './adapters/postgres.js';
import { openSqlite, sqliteDialect } from './adapters/sqlite.js';
import { migrationProvider } from './migrations/index.js';
import type { Db } from './schema.js';

export type {
  DatabaseAdapter,
  DialectName,
  LastUseTarget,
  LastUseWriter,
  PoolStats,
  ReadNow,
} from './adapter.js';

/** Counted since the database was opened, and the pool as it is now (for /metrics). */
export interface DatabaseStats {
  /** Pooled connections the server ended (PostgreSQL restarted, failover, terminated). */
  connectionErrors: number;
  /** Statements that failed, other than on a unique key (which services expect and answer). */
  statementErrors: number;
  /** Null where there is no pool (SQLite). */
  pool: PoolStats | null;
}

export interface DatabaseHandle {
  readonly db: Db;
  /** Every SQLite/PostgreSQL difference the rest of the code needs, in one place. */
  readonly adapter: DatabaseAdapter;
  /** Where the usage flush writes last-use times when not through `db` (see `LastUseWriter`). */
  readonly lastUseWriter: LastUseWriter | null;
  /** Reads at once where the database allows it (see `ReadNow`); null on PostgreSQL. */
  readonly readNow: ReadNow | null;
  stats(): DatabaseStats;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Called with the SQL of every statement run (tests count writes with it). */
  onQuery?: (sql: string) => void;
  /**
   * Called when PostgreSQL ends a pooled connection (restart, failover, pg_terminate_backend),
   * idle or held by a transaction. It never ends the process: a query on that connection fails to
   * its caller and the pool connects anew on next use, so this is for the log.
   */
  onError?: (error: unknown) => void;
  /** SQLite: how long a write waits for another connection's write lock before failing (5 s). */
  busyTimeoutMs?: number;
  /** PostgreSQL: how long a query waits for a connection, new or pooled, before failing (5 s). */
  connectTimeoutMs?: number;
  /** SQLite: reports a database file found with a wider mode than 0600, after tightening it. */
  onTightened?: OnTightened;
}

/** Opens SQLite (`sqlite:<file>`, WAL) or PostgreSQL (`postgres://…`) behind one Kysely interface. */
export function openDatabase(databaseUrl: string, options: OpenOptions = {}): DatabaseHandle {
  const {
    onQuery,
    onError = () => {},
    busyTimeoutMs = 5_000,
    connectTimeoutMs = 5_000,
    onTightened = () => {},
  } = options;
  let connectionErrors = 0;
  let statementErrors = 0;
  const log = (event: LogEvent) => {
    if (event.level === 'query') onQuery?.(event.query.sql);
    else if (!isUniqueViolation(event.error)) statementErrors += 1;
  };
  const onConnectionError = (error: unknown) => {
    connectionErrors += 1;
    onError(error);
  };
  const { db, adapter, poolStats, lastUseWriter, readNow } = databaseUrl.startsWith('sqlite:')
    ? openSqlite(databaseUrl.slice('sqlite:'.length), {
        log,
        busyTimeoutMs,
        onTightened,
        ...(onQuery ? { onQuery } : {}),
      })
    : openPostgres(databaseUrl, { log, onError: onConnectionError, connectTimeoutMs });
  return {
    db,
    adapter,
    lastUseWriter,
    readNow,
    stats: () => ({ connectionErrors, statementErrors, pool: poolStats?.() ?? null }),
    close: async () => {
      await lastUseWriter?.close();
      await db.destroy();
    },
  };
}

/**
 * True when `error` is a unique or primary-key violation on either database: services catch it
 * without being handed the adapter.
 */
export function isUniqueViolation(error: unknown): boolean {
  return sqliteDialect.isUniqueViolation(error) || postgresDialect.isUniqueViolation(error);
}

/**
 * True when `error` means the database (either kind) cannot be reached or cannot take a statement
 * right now, so the request may be retried: the HTTP layer answers 503 for it.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return sqliteDialect.isUnavailable(error) || postgresDialect.isUnavailable(error);
}

/** Runs pending migrations. Kysely's Migrator holds a lock, so nodes may start together. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export async function ping(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}
