import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { DialectAdapter, OpenedDatabase, PostgresConnectOptions } from '../adapter.js';
import { codeOf, errorChain, messageOf } from '../error-causes.js';
import type { Database } from '../schema.js';

const UNIQUE_VIOLATION = '23505';

/** Node's errors for a peer that cannot be reached or that dropped the connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/**
 * SQLSTATEs of a server that ended or refused the session: class 08 (connection exception), class
 * 53 (insufficient resources: disk full, too many connections), and 57P01–57P05 (shut down,
 * crashed, starting up, idle-session timeout).
 */
const UNAVAILABLE_SQLSTATE = /^(08...|53...|57P0[1-5])$/;

/** What pg and pg-pool say, without a code, about a connection that ended, broke or never came. */
const CONNECTION_MESSAGES = [
  /^Connection terminated/,
  /is not queryable$/,
  /^timeout exceeded when trying to connect$/,
];

function isConnectionFault(error: object): boolean {
  const code = codeOf(error);
  if (code !== undefined && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
  const message = messageOf(error);
  return CONNECTION_MESSAGES.some((pattern) => pattern.test(message));
}

export const postgresDialect: DialectAdapter = {
  name: 'postgres',
  clustered: true,
  // Other nodes' invalidations arrive by LISTEN/NOTIFY; the TTL is the backstop should one be lost.
  cacheTtlMs: 10_000,
  isUniqueViolation: (error) =>
    typeof error === 'object' && error !== null && 'code' in error && error.code === UNIQUE_VIOLATION,
  isUnavailable: (error) => errorChain(error).some(isConnectionFault),
  lockForClaim: (qb) => qb.forUpdate().skipLocked(),
};

/** Opens a pool of connections to `connectionString` behind Kysely. */
export function openPostgres(connectionString: string, options: PostgresConnectOptions): OpenedDatabase {
  const { onError } = options;
  // Epoch-millisecond columns are bigint: read them as numbers (safe up to year 287396).
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, Number);
  const max = 10;
  const pool = new pg.Pool({
    connectionString,
    max,
    types,
    // Waiting for a connection (a new one, or a pooled one under load) is bounded, so a request to
    // an unreachable database fails in seconds with a retryable error instead of hanging.
    connectionTimeoutMillis: options.connectTimeoutMs,
    // Lets the kernel notice a peer that vanished (a network cut) on connections left idle.
    keepAlive: true,
  });
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
    readNow: null,
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max }),
    // The pool's connections are asynchronous: Kysely's queries never hold the event loop.
    lastUseWriter: null,
  };
}
