import path from 'node:path';
import SQLite from 'better-sqlite3';
import {
  type DatabaseConnection,
  Kysely,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';
import { createPrivateDir, ensurePrivateFile, tightenFile } from '../../private-files.js';
import type { DialectAdapter, OpenedDatabase, ReadNow, SqliteConnectOptions } from '../adapter.js';
import { codeOf, errorChain } from '../error-causes.js';
import type { Database } from '../schema.js';
import { createSqliteLastUseWriter } from './sqlite-writer.js';

/**
 * Result codes of a database that cannot take the statement now: another connection holds the
 * write lock past the busy timeout, the disk is full, or the disk failed a read or write.
 */
const UNAVAILABLE_CODE = /^SQLITE_(BUSY|BUSY_[A-Z]+|FULL|IOERR|IOERR_[A-Z_]+)$/;

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
  isUnavailable: (error) => errorChain(error).some((e) => UNAVAILABLE_CODE.test(codeOf(e) ?? '')),
  // SQLite has a single writer and no lock clause: a claim's UPDATE already excludes other claimers.
  lockForClaim: (qb) => qb,
};

/** Opens `file` (or `:memory:`) in WAL mode behind Kysely. */
export function openSqlite(file: string, options: SqliteConnectOptions): OpenedDatabase {
  const onDisk = file !== ':memory:';
  // Password hashes, emails and audit entries: only the owner may read the files. SQLite gives the
  // WAL and shared-memory files it creates the database file's mode, so the database is created
  // 0600 before SQLite opens it; files left with wider modes are tightened.
  const companions = [`${file}-wal`, `${file}-shm`];
  if (onDisk) {
    createPrivateDir(path.dirname(file));
    ensurePrivateFile(file, options.onTightened);
    for (const companion of companions) tightenFile(companion, options.onTightened);
  }
  const connection = new SQLite(file);
  connection.pragma('journal_mode = WAL');
  if (onDisk) for (const companion of companions) tightenFile(companion, options.onTightened);
  // FULL syncs the write-ahead log at every commit. NORMAL would be faster, but a power loss or an
  // OS crash could then roll back the last commits the API had already acknowledged.
  connection.pragma('synchronous = FULL');
  connection.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs))}`);
  connection.pragma('foreign_keys = ON');
  const cached = withStatementCache(connection);
  const db = new Kysely<Database>({
    dialect: new RollbackOnlyOpenDialect({ database: cached }),
    ...(options.log ? { log: options.log } : {}),
  });
  return {
    db,
    readNow: createReadNow(connection, cached, options.log),
    adapter: { ...sqliteDialect, listenUrl: null },
    poolStats: null,
    lastUseWriter: onDisk
      ? createSqliteLastUseWriter(
          file,
          Math.max(0, Math.floor(options.busyTimeoutMs)),
          options.onQuery ?? (() => {}),
        )
      : null,
  };
}

/**
 * SQLite ends a transaction by itself on some errors (a full disk, an I/O error). Kysely then
 * sends ROLLBACK, which fails ("no transaction is active") and replaces the error that mattered:
 * a rollback is sent only while a transaction is open.
 */
class RollbackOnlyOpenDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig & { database: SQLite.Database };

  constructor(config: SqliteDialectConfig & { database: SQLite.Database }) {
    super(config);
    this.#config = config;
  }

  override createDriver(): SqliteDriver {
    const database = this.#config.database;
    return new (class extends SqliteDriver {
      override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
        if (database.inTransaction) await super.rollbackTransaction(connection);
      }
    })(this.#config);
  }
}

/**
 * better-sqlite3 runs a statement synchronously, so a read that needs no transaction can run at
 * once instead of through Kysely's queue (a mutex, a chain of promises): on the verify path that
 * machinery cost about 5 µs of a cache miss's 35 µs lookup (BENCHMARKS.md). It reads only what is
 * committed: never while a transaction is open on the connection (a Kysely transaction awaiting
 * between its statements). better-sqlite3 lets a read run beside a streamed query; should it
 * refuse one as busy (a TypeError), the caller takes Kysely's path.
 */
function createReadNow(
  connection: SQLite.Database,
  statements: Pick<SQLite.Database, 'prepare'>,
  log: SqliteConnectOptions['log'],
): ReadNow {
  const report = typeof log === 'function' ? log : undefined;
  return (query) => {
    if (connection.inTransaction) return undefined;
    const started = report === undefined ? 0 : performance.now();
    let rows: unknown[];
    try {
      rows = statements.prepare(query.sql).all(query.parameters);
    } catch (error) {
      if (error instanceof TypeError && /busy/.test(error.message)) return undefined;
      report?.({ level: 'error', error, query, queryDurationMillis: performance.now() - started });
      throw error;
    }
    report?.({ level: 'query', query, queryDurationMillis: performance.now() - started });
    return rows;
  };
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
