import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from './database.js';

/** An error as pg, pg-pool, Node's net module or better-sqlite3 throws it. */
const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it.each([
    ['PostgreSQL shut down (pg_terminate_backend, restart)', withCode('57P01')],
    ['PostgreSQL crashed', withCode('57P02')],
    ['PostgreSQL still starting', withCode('57P03')],
    ['a connection exception (class 08)', withCode('08006')],
    ['too many connections (class 53)', withCode('53300')],
    ['PostgreSQL disk full (class 53)', withCode('53100')],
    ['connection refused', withCode('ECONNREFUSED')],
    ['connection reset', withCode('ECONNRESET')],
    ['a host that cannot be resolved for now', withCode('EAI_AGAIN')],
    ['both addresses of localhost refused', new AggregateError([withCode('ECONNREFUSED')], 'connect failed')],
    ['a wrapped cause', new Error('query failed', { cause: withCode('57P01') })],
    ['a connection ended under a query', new Error('Connection terminated unexpectedly')],
    ['a connection that never came', new Error('Connection terminated due to connection timeout')],
    [
      'a client whose connection broke',
      new Error('Client has encountered a connection error and is not queryable'),
    ],
    [
      'the pool could not hand out a connection in time',
      new Error('timeout exceeded when trying to connect'),
    ],
    ['SQLite locked by another connection', withCode('SQLITE_BUSY')],
    ['SQLite snapshot conflict', withCode('SQLITE_BUSY_SNAPSHOT')],
    ['SQLite disk full', withCode('SQLITE_FULL')],
    ['SQLite I/O error', withCode('SQLITE_IOERR')],
    ['SQLite write error', withCode('SQLITE_IOERR_WRITE')],
  ])('is true for %s', (_what, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', withCode('23505')],
    ['a syntax error', withCode('42601')],
    ['a serialization failure', withCode('40001')],
    ['an SQLite constraint', withCode('SQLITE_CONSTRAINT_UNIQUE')],
    ['an SQLite syntax error', withCode('SQLITE_ERROR')],
    ['a programming error', new TypeError('x is undefined')],
    ['a message that only mentions a connection', new Error('connection string is missing a host')],
    ['not an error at all', 'Connection terminated'],
    ['nothing', null],
  ])('is false for %s', (_what, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
