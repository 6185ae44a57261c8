import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { migrationProvider } from './migrations/index.js';
import type { Database, Db } from './schema.js';

export type DialectName = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  readonly db: Db;
  readonly dialect: DialectName;
  /** The PostgreSQL connection string (null on SQLite), for a LISTEN connection. */
  readonly postgresUrl: string | null;
  close(): Promise<void>;
}

const PG_INT8 = 20;

/** Opens SQLite (`sqlite:<file>`, WAL) or PostgreSQL (`postgres://…`) behind one Kysely interface. */
export interface OpenOptions {
  /** Called with the SQL of every statement run (tests count writes with it). */
  onQuery?: (sql: string) => void;
}

export function openDatabase(databaseUrl: string, options: OpenOptions = {}): DatabaseHandle {
  const { onQuery } = options;
  const log = onQuery
    ? (event: { level: string; query: { sql: string } }) => {
        if (event.level === 'query') onQuery(event.query.sql);
      }
    : undefined;
  if (databaseUrl.startsWith('sqlite:')) {
    const file = databaseUrl.slice('sqlite:'.length);
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    const connection = new SQLite(file);
    connection.pragma('journal_mode = WAL');
    connection.pragma('synchronous = NORMAL');
    connection.pragma('busy_timeout = 5000');
    connection.pragma('foreign_keys = ON');
    const db = new Kysely<Database>({
      dialect: new SqliteDialect({ database: withStatementCache(connection) }),
      ...(log ? { log } : {}),
    });
    return { db, dialect: 'sqlite', postgresUrl: null, close: () => db.destroy() };
  }
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: 10,
    // Epoch-millisecond columns are bigint: read them as numbers (safe up to year 287396).
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === PG_INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as never,
    },
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), ...(log ? { log } : {}) });
  return { db, dialect: 'postgres', postgresUrl: databaseUrl, close: () => db.destroy() };
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

/** Runs pending migrations. Kysely's Migrator holds a lock, so nodes may start together. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export async function pendingMigrations(db: Db): Promise<number> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const all = await migrator.getMigrations();
  return all.filter((m) => m.executedAt === undefined).length;
}

export async function ping(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}
