import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNotifier, type Notice } from '../../src/cluster/notifier.js';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.js';
import { terminateBackends } from '../faults.js';
import { dialects, freshDatabase } from '../helpers.js';

const onPostgres = dialects().includes('postgres');

/** Polls until `check` holds, for at most `ms`. */
async function eventually(check: () => boolean, ms = 5_000): Promise<void> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sqlState = (error: unknown) =>
  typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;

// A restart, a failover or an operator's pg_terminate_backend ends the server side of pooled
// connections at any moment; the node must log it and carry on, never exit.
describe.runIf(onPostgres)('postgres: connections that PostgreSQL ends', () => {
  let fresh: { url: string; drop(): Promise<void> };
  let name: string;
  let database: DatabaseHandle;
  const reported: unknown[] = [];
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => void uncaught.push(error);

  const terminate = async () => (await terminateBackends(name)).length;

  beforeAll(async () => {
    fresh = await freshDatabase('postgres');
    name = new URL(fresh.url).pathname.slice(1);
  });
  afterAll(() => fresh.drop());

  beforeEach(() => {
    reported.length = 0;
    uncaught.length = 0;
    process.on('uncaughtException', onUncaught);
    database = openDatabase(fresh.url, { onError: (error) => reported.push(error) });
  });
  afterEach(async () => {
    await database.close();
    process.off('uncaughtException', onUncaught);
  });

  it('reports an idle connection ended by the server, and the next query succeeds', async () => {
    await sql`select 1`.execute(database.db); // leaves one idle client in the pool
    expect(await terminate()).toBe(1);
    await eventually(() => reported.length + uncaught.length > 0);
    expect(uncaught).toEqual([]);
    expect(sqlState(reported[0])).toBe('57P01'); // admin_shutdown
    const { rows } = await sql<{ n: number }>`select 2 as n`.execute(database.db);
    expect(rows).toEqual([{ n: 2 }]);
    expect(uncaught).toEqual([]);
  });

  it('fails only the transaction whose connection was ended, and the next query succeeds', async () => {
    const transaction = database.db.transaction().execute(async (tx) => {
      await sql`select 1`.execute(tx);
      expect(await terminate()).toBe(1);
      await eventually(() => reported.length + uncaught.length > 0);
      await sql`select 1`.execute(tx);
    });
    await expect(transaction).rejects.toThrow();
    expect(uncaught).toEqual([]);
    expect(sqlState(reported[0])).toBe('57P01');
    const { rows } = await sql<{ n: number }>`select 3 as n`.execute(database.db);
    expect(rows).toEqual([{ n: 3 }]);
    expect(uncaught).toEqual([]);
  });

  it('reconnects the LISTEN connection after the server ends it, and hears notices again', async () => {
    const notifier = createNotifier(database, (error) => reported.push(error));
    const heard: Notice[] = [];
    notifier.subscribe((notice) => void heard.push(notice));
    await notifier.start();
    try {
      expect(await terminate()).toBe(1);
      // Whatever was sent while it was deaf is lost: caches are dropped once it hears again. Not
      // on losing it: while the database is gone, cached entries are all a node can answer from.
      await eventually(() => heard.some((n) => n.type === 'reset'));
      expect(uncaught).toEqual([]);
      expect(sqlState(reported[0])).toBe('57P01');
      const notice: Notice = { type: 'token.changed', digests: ['d1'] };
      await database.db.transaction().execute((tx) => notifier.publish(tx, notice));
      await eventually(() => heard.some((n) => n.type === 'token.changed'));
      expect(heard).toEqual([{ type: 'reset' }, notice]);
    } finally {
      await notifier.stop();
    }
  });
});
