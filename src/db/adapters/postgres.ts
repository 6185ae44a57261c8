import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { ConnectOptions, DialectAdapter, OpenedDatabase } from '../adapter.js';
import type { Database } from '../schema.js';

const UNIQUE_VIOLATION = '23505';

export const postgresDialect: DialectAdapter = {
  name: 'postgres',
  clustered: true,
  // Other nodes' invalidations arrive by LISTEN/NOTIFY; the TTL is the backstop should one be lost.
  cacheTtlMs: 10_000,
  isUniqueViolation: (error) =>
    typeof error === 'object' && error !== null && 'code' in error && error.code === UNIQUE_VIOLATION,
  lockForClaim: (qb) => qb.forUpdate().skipLocked(),
};

/** Opens a pool of connections to `connectionString` behind Kysely. */
export function openPostgres(connectionString: string, options: ConnectOptions): OpenedDatabase {
  // Epoch-millisecond columns are bigint: read them as numbers (safe up to year 287396).
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, Number);
  const pool = new pg.Pool({ connectionString, max: 10, types });
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    ...(options.log ? { log: options.log } : {}),
  });
  return { db, adapter: { ...postgresDialect, listenUrl: connectionString } };
}
