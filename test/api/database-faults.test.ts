import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNotifier, type Notice } from '../../src/cluster/notifier.js';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.js';
import { backendsGone, terminateBackends, watchProcessErrors } from '../faults.js';
import {
  bearer,
  createTestApp,
  dialects,
  freshDatabase,
  type Json,
  json,
  ownerWorkspace,
  type TestApp,
} from '../helpers.js';

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

/** What a node answers while its database may be failing: anything but a 500. */
const acceptable = (status: number) => (status >= 200 && status < 500) || status === 503;

const unique = () => `token-${randomBytes(4).toString('hex')}`;

describe.runIf(onPostgres)('postgres: two nodes while PostgreSQL keeps ending their connections', () => {
  let a: TestApp;
  let b: TestApp;
  let name: string;
  beforeAll(async () => {
    a = await createTestApp('postgres');
    b = await createTestApp('postgres', {}, { databaseUrl: a.services.config.databaseUrl });
    name = new URL(a.services.config.databaseUrl).pathname.slice(1);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('answers every request of a burst with 2xx, 4xx or 503, and both nodes answer normally afterwards', async () => {
    const { key } = await ownerWorkspace(a.app, { key: 'team' });
    const headers = bearer(key.key);
    const issued: Json[] = [];
    for (let i = 0; i < 4; i += 1) {
      issued.push(
        json(
          await a.app.inject({
            method: 'POST',
            url: '/v1/tokens',
            headers,
            payload: { name: `t${i}`, scopes: ['tokens:read'] },
          }),
        ),
      );
    }
    const one = (i: number) => issued[i % issued.length] as Json;
    const request = (node: TestApp, i: number) => {
      switch (i % 5) {
        case 0:
          return node.app.inject({
            method: 'POST',
            url: '/v1/tokens',
            headers,
            payload: { name: `b${i}`, scopes: ['tokens:read'] },
          });
        case 1:
          return node.app.inject({
            method: 'POST',
            url: '/v1/tokens/verify',
            headers,
            payload: { token: one(i).token },
          });
        case 2:
          return node.app.inject({ method: 'GET', url: '/v1/tokens?per_page=5', headers });
        case 3:
          return node.app.inject({ method: 'GET', url: `/v1/tokens/${one(i).id}`, headers });
        default:
          return node.app.inject({
            method: 'PATCH',
            url: '/v1/settings',
            headers,
            payload: { name: `Burst ${i}` },
          });
      }
    };

    const watch = watchProcessErrors();
    const statuses: { status: number; body: string }[] = [];
    const ended: number[] = [];
    let bursting = true;
    try {
      const workers = [a, b, a, b, a, b].map(async (node, w) => {
        for (let i = 0; i < 30; i += 1) {
          const res = await request(node, w * 30 + i);
          statuses.push({ status: res.statusCode, body: res.body });
        }
      });
      const terminator = (async () => {
        while (bursting) {
          ended.push(...(await terminateBackends(name)));
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      await Promise.all(workers).finally(() => {
        bursting = false;
      });
      await terminator;
      await backendsGone(ended);
    } finally {
      watch.stop();
    }
    expect(ended.length).toBeGreaterThan(0);
    expect(statuses).toHaveLength(180);
    expect(statuses.filter((s) => !acceptable(s.status))).toEqual([]);
    expect(watch.errors).toEqual([]);

    for (const node of [a, b]) {
      expect((await node.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      const created = await node.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers,
        payload: { name: unique(), scopes: ['tokens:read'] },
      });
      expect(created.statusCode, created.body).toBe(201);
      for (const other of [a, b]) {
        const res = await other.app.inject({
          method: 'POST',
          url: '/v1/tokens/verify',
          headers,
          payload: { token: json(created).token },
        });
        expect(json(res).code).toBe('VALID');
      }
    }
  });
});
