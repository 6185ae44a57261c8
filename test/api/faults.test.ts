import { randomBytes } from 'node:crypto';
import SQLite from 'better-sqlite3';
import type { InjectOptions } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settleNotices, startTcpProxy, type TcpProxy, watchProcessErrors } from '../faults.js';
import {
  bearer,
  createTestApp,
  dialects,
  expectError,
  freshDatabase,
  type Json,
  json,
  ownerWorkspace,
  PASSWORD,
  type TestApp,
  uniqueEmail,
} from '../helpers.js';

// SQLite has one writer: another process holding the write lock past the busy timeout, or a full
// disk, must cost a request a 503 it can retry, never a 500.
describe('sqlite: a busy or full database', () => {
  let t: TestApp;
  let key: Json;
  let workspaceId: string;
  let file: string;
  beforeAll(async () => {
    t = await createTestApp('sqlite', {}, { database: { busyTimeoutMs: 50 } });
    const owner = await ownerWorkspace(t.app, { key: 'team' });
    key = owner.key;
    workspaceId = owner.ws.id;
    file = t.services.config.databaseUrl.slice('sqlite:'.length);
  });
  afterAll(() => t.close());

  const createToken = (name = `faulty-${randomBytes(4).toString('hex')}`) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(key.key),
      payload: { name, scopes: ['tokens:read'] },
    });
  const verify = (token: string) =>
    t.app.inject({ method: 'POST', url: '/v1/tokens/verify', headers: bearer(key.key), payload: { token } });

  it('answers 503 unavailable with Retry-After while another connection holds the write lock, then recovers', async () => {
    const cached = json(await createToken('cached'));
    expect(json(await verify(cached.token)).code).toBe('VALID');
    const watch = watchProcessErrors();
    const other = new SQLite(file);
    try {
      other.exec('BEGIN IMMEDIATE');
      const res = await createToken();
      expectError(res, 503, 'unavailable');
      expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      // A verification served from the cache needs no write.
      expect(json(await verify(cached.token)).code).toBe('VALID');
      // Reads still work in WAL mode, so the database is reachable.
      expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    } finally {
      other.exec('ROLLBACK');
      other.close();
      watch.stop();
    }
    expect(watch.errors).toEqual([]);
    expect((await createToken()).statusCode).toBe(201);
  });

  it('answers /readyz 503 with Retry-After until migrations have run', async () => {
    t.services.ready.migrated = false;
    try {
      const res = await t.app.inject({ method: 'GET', url: '/readyz' });
      expectError(res, 503, 'unavailable');
      expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    } finally {
      t.services.ready.migrated = true;
    }
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('answers 503 unavailable when the database file cannot grow (disk full), then recovers', async () => {
    const watch = watchProcessErrors();
    const statuses: number[] = [];
    // SQLite reports SQLITE_FULL once the file would pass its page limit, as on a full disk.
    await sql`pragma max_page_count = 1`.execute(t.database.db);
    try {
      for (let i = 0; i < 500 && !statuses.includes(503); i += 1) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/tokens',
          headers: bearer(key.key),
          payload: { name: `fill-${i}`, scopes: ['tokens:read'], metadata: { pad: 'x'.repeat(400) } },
        });
        statuses.push(res.statusCode);
        if (res.statusCode === 503) {
          expectError(res, 503, 'unavailable');
          expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
        }
      }
    } finally {
      await sql`pragma max_page_count = 1073741823`.execute(t.database.db);
      watch.stop();
    }
    expect(statuses.at(-1)).toBe(503);
    expect(new Set(statuses.slice(0, -1))).toEqual(new Set(statuses.length > 1 ? [201] : []));
    expect(watch.errors).toEqual([]);
    const after = await createToken();
    expect(after.statusCode, after.body).toBe(201);
    // The failed change left nothing behind: every token has its audit entry, and no entry lacks its token.
    const tokens = await t.database.db
      .selectFrom('tokens')
      .select('id')
      .where('workspace_id', '=', workspaceId)
      .execute();
    const audited = await t.database.db
      .selectFrom('audit_log')
      .select('target_id')
      .where('workspace_id', '=', workspaceId)
      .where('event', '=', 'token.created')
      .execute();
    expect(audited.map((a) => a.target_id).sort()).toEqual(tokens.map((row) => row.id).sort());
  });
});

const onPostgres = dialects().includes('postgres');

const unique = () => `token-${randomBytes(4).toString('hex')}`;

// A PostgreSQL restart or network cut, made by a relay this test owns, so the shared server
// other test files use is not disturbed.
describe.runIf(onPostgres)('postgres: a node whose database becomes unreachable', () => {
  let fresh: { url: string; drop(): Promise<void> };
  let proxy: TcpProxy;
  let t: TestApp;
  beforeAll(async () => {
    fresh = await freshDatabase('postgres');
    const url = new URL(fresh.url);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    t = await createTestApp(
      'postgres',
      {},
      { databaseUrl: url.toString(), database: { connectTimeoutMs: 2_000 } },
    );
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    await fresh?.drop();
  });

  it('answers 503 with Retry-After and /readyz 503, keeps verifying cached tokens, and recovers by itself', async () => {
    const { session, key } = await ownerWorkspace(t.app, { key: 'team' });
    const inject = (options: InjectOptions) => t.app.inject(options);
    const createToken = () =>
      inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(key.key),
        payload: { name: unique(), scopes: ['tokens:read'] },
      });
    const verify = (token: string) =>
      inject({ method: 'POST', url: '/v1/tokens/verify', headers: bearer(key.key), payload: { token } });
    const cached = json(await createToken());
    await settleNotices(t.services);
    expect(json(await verify(cached.token)).code).toBe('VALID');

    const watch = watchProcessErrors();
    await proxy.cut();
    try {
      // Answered from memory: the token, its API key and its workspace are cached.
      const res = await verify(cached.token);
      expect(res.statusCode).toBe(200);
      expect(json(res).code).toBe('VALID');
      const needDatabase: InjectOptions[] = [
        {
          method: 'POST',
          url: '/v1/tokens',
          headers: bearer(key.key),
          payload: { name: 'x', scopes: ['tokens:read'] },
        },
        { method: 'GET', url: '/v1/tokens', headers: bearer(key.key) },
        { method: 'GET', url: '/v1/me', headers: session.headers },
        { method: 'POST', url: '/v1/auth/signup', payload: { email: uniqueEmail(), password: PASSWORD } },
        { method: 'GET', url: '/readyz' },
      ];
      for (const options of needDatabase) {
        const res = await inject(options);
        expectError(res, 503, 'unavailable');
        expect(res.headers['retry-after'], String(options.url)).toMatch(/^[1-9]\d*$/);
      }
      expect((await inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await proxy.restore();
      watch.stop();
    }
    expect(watch.errors).toEqual([]);

    expect((await inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const created = await createToken();
    expect(created.statusCode).toBe(201);
    expect(json(await verify(json(created).token)).code).toBe('VALID');
    expect((await inject({ method: 'GET', url: '/v1/me', headers: session.headers })).statusCode).toBe(200);
  });

  it('answers 503 once the connection timeout passes when the database stops answering, then recovers', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const headers = bearer(key.key);
    const cached = json(
      await t.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers,
        payload: { name: unique(), scopes: ['tokens:read'] },
      }),
    );
    const verify = () =>
      t.app.inject({ method: 'POST', url: '/v1/tokens/verify', headers, payload: { token: cached.token } });
    await settleNotices(t.services);
    expect(json(await verify()).code).toBe('VALID');

    const watch = watchProcessErrors();
    proxy.hang();
    try {
      expect(json(await verify()).code).toBe('VALID');
      for (const url of ['/v1/tokens', '/readyz']) {
        const res = await t.app.inject({ method: 'GET', url, headers });
        expectError(res, 503, 'unavailable');
        expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      }
    } finally {
      await proxy.restore();
      watch.stop();
    }
    expect(watch.errors).toEqual([]);
    expect((await t.app.inject({ method: 'GET', url: '/v1/tokens', headers })).statusCode).toBe(200);
  });
});
