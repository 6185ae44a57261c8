import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { ConnectOptions, DialectAdapter, OpenedDatabase } from '../adapter.js';
import type { Database } from '../schema.js';

export const sqliteDialect: DialectAdapter = {
  name: 'sqlite',
  // One process holds the file: there is no other node to hear from.
  clustered: false,
  // With one node every invalidation is applied in-process, so nothing can be missed: entries may
  // live long.
  cacheTtlMs: 300_000,
  isUniqueViolation: (error) => {
    const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
  },
  // SQLite has a single writer and no lock clause: a claim's UPDATE already excludes other claimers.
  lockForClaim: (qb) => qb,
};

/** Opens `file` (or `:memory:`) in WAL mode behind Kysely. */
export function openSqlite(file: string, options: Pick<ConnectOptions, 'log'>): OpenedDatabase {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const connection = new SQLite(file);
  connection.pragma('journal_mode = WAL');
  // FULL syncs the write-ahead log at every commit. NORMAL would be faster, but a power loss or an
  // OS crash could then roll back the last commits the API had already acknowledged.
  connection.pragma('synchronous = FULL');
  connection.pragma('busy_timeout = 5000');
  connection.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: withStatementCache(connection) }),
    ...(options.log ? { log: options.log } : {}),
  });
  return { db, adapter: { ...sqliteDialect, listenUrl: null }, poolStats: null };
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely's SQLite driver prepares every query anew; preparing costs more than running the
 * indexed reads of the hot path. This keeps prepared statements by SQL text (bounded), so a query
 * shape is compiled by SQLite once per connection. Statements are reused only under Kysely's
 * single-connection mutex, and SQLite re-prepares them itself after a schema change.
 */
function withStatementCache(connection: SQLite.Database): SQLite.Database {
  const statements = new Map<string, SQLite.Statement>();
  const prepare = (source: string) => {
    let statement = statements.get(source);
    if (statement === undefined) {
      statement = connection.prepare(source);
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.clear();
      statements.set(source, statement);
    }
    return statement;
  };
  return new Proxy(connection, {
    get(target, property) {
      if (property === 'prepare') return prepare;
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
