import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/db/database.js';
import { watchProcessErrors } from '../faults.js';
import { bearer, createTestApp, dialects, json, ownerWorkspace, type TestApp } from '../helpers.js';

// More than one transaction's worth of rows (1,000), so the flush runs in several batches.
const ROWS = 2_600;

describe.each(dialects())('usage flush (%s)', (dialect) => {
  let t: TestApp;
  let ids: string[];
  beforeAll(async () => {
    t = await createTestApp(dialect);
    const { ws, session } = await ownerWorkspace(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${ws.slug}/tokens`,
      headers: session.headers,
      payload: { name: 'template', scopes: ['tokens:read'] },
    });
    expect(res.statusCode, res.body).toBe(201);
    const template = await t.services.db
      .selectFrom('tokens')
      .selectAll()
      .where('id', '=', json(res).id)
      .executeTakeFirstOrThrow();
    // Rows copied from a real one: only their last-use time matters here.
    ids = Array.from({ length: ROWS }, (_, i) => `tok_flush${String(i).padStart(15, '0')}`);
    for (let i = 0; i < ROWS; i += 500) {
      await t.services.db
        .insertInto('tokens')
        .values(
          ids
            .slice(i, i + 500)
            .map((id) => ({ ...template, id, name: id, name_lower: id, last_used_at: null })),
        )
        .execute();
    }
  });
  afterAll(async () => t.close());

  it('writes every row, moves times only forward, and lets the event loop run between batches', async () => {
    const base = t.clock.now();
    // Every third row already holds a later time, which the flush must keep.
    const later = ids.filter((_, i) => i % 3 === 0);
    await t.services.db
      .updateTable('tokens')
      .set({ last_used_at: base + 10_000 })
      .where('id', 'in', later)
      .execute();
    for (const [i, id] of ids.entries()) t.services.usage.tokenUsed(id, base + i);

    let macrotasks = 0;
    const tick = () => {
      macrotasks += 1;
      if (!done) setImmediate(tick);
    };
    let done = false;
    setImmediate(tick);
    const touched = await t.services.usage.flush();
    done = true;
    expect(touched).toBe(ROWS);
    // The flush answered to the event loop between its batches instead of running as one task.
    expect(macrotasks).toBeGreaterThanOrEqual(2);

    const rows = await t.services.db
      .selectFrom('tokens')
      .select(['id', 'last_used_at'])
      .where('id', 'in', ids)
      .execute();
    const stored = new Map(rows.map((r) => [r.id, Number(r.last_used_at)]));
    expect(stored.size).toBe(ROWS);
    for (const [i, id] of ids.entries()) {
      expect(stored.get(id), id).toBe(i % 3 === 0 ? base + 10_000 : base + i);
    }
  });
});

// On an SQLite file the flush writes from a worker thread with a connection of its own.
describe('sqlite: usage flush against a busy database', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('sqlite', {}, { database: { busyTimeoutMs: 50 } });
  });
  afterAll(async () => t.close());

  it('fails as unavailable while another connection holds the write lock, keeps verifying, then writes again', async () => {
    const { ws, session, key } = await ownerWorkspace(t.app, { key: 'team' });
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${ws.slug}/tokens`,
      headers: session.headers,
      payload: { name: 'busy', scopes: ['tokens:read'] },
    });
    const token = json(res);
    const verify = async () =>
      json(
        await t.app.inject({
          method: 'POST',
          url: '/v1/tokens/verify',
          headers: bearer(key.key),
          payload: { token: token.token },
        }),
      ).code;
    const lastUsed = async () =>
      (
        await t.services.db
          .selectFrom('tokens')
          .select('last_used_at')
          .where('id', '=', token.id)
          .executeTakeFirstOrThrow()
      ).last_used_at;

    const watch = watchProcessErrors();
    const other = new SQLite(t.services.config.databaseUrl.slice('sqlite:'.length));
    try {
      other.exec('BEGIN IMMEDIATE');
      expect(await verify()).toBe('VALID');
      const failed = await t.services.usage.flush().then(
        () => null,
        (error: unknown) => error,
      );
      expect(isDatabaseUnavailable(failed)).toBe(true);
      // Reads are not held up by the lock the flush could not get.
      expect(await verify()).toBe('VALID');
    } finally {
      other.exec('ROLLBACK');
      other.close();
      watch.stop();
    }
    expect(watch.errors).toEqual([]);
    t.clock.advance(1000);
    expect(await verify()).toBe('VALID');
    await t.services.usage.flush();
    expect(Number(await lastUsed())).toBe(t.clock.now());
  });
});
