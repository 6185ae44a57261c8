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
  const { onError } = options;
  // Epoch-millisecond columns are bigint: read them as numbers (safe up to year 287396).
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, Number);
  const max = 10;
  const pool = new pg.Pool({ connectionString, max, types });
  // PostgreSQL may end a connection at any time (restart, failover, pg_terminate_backend). pg then
  // emits 'error' on the client, and pg-pool re-emits it on the pool when the client was idle; an
  // 'error' event nobody listens to ends the process. The client's own listener reports it (checked
  // out or idle, once), its query (if any) fails to its caller, and the pool drops the dead client
  // and connects a new one on next use, so the pool's listener has nothing left to do.
  pool.on('connect', (client) => client.on('error', onError));
  pool.on('error', () => {});
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    ...(options.log ? { log: options.log } : {}),
  });
  return {
    db,
    adapter: { ...postgresDialect, listenUrl: connectionString },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max }),
  };
}
