import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHash, GENESIS_HASH } from '../../src/audit/chain.js';
import { chainedFields } from '../../src/audit/service.js';
import {
  bearer,
  createApiKey,
  createTestApp,
  createWorkspace,
  dialects,
  signup,
  type TestApp,
} from '../helpers.js';

describe.each(dialects())('%s: audit recording', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  it('chains every entry of a workspace to the one before, without forks under concurrency', async () => {
    const session = await signup(t.app);
    const ws = await createWorkspace(t.app, session, 'Chain');
    const key = await createApiKey(t.app, session, ws.slug);
    // 20 concurrent changes, each writing its own entry.
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.app.inject({
          method: 'PATCH',
          url: '/v1/settings',
          headers: bearer(key.key),
          payload: { name: `Chain ${i}` },
        }),
      ),
    );
    for (const res of results) expect([200, 403]).toContain(res.statusCode);
    const rows = await t.services.db
      .selectFrom('audit_log')
      .selectAll()
      .where('workspace_id', '=', ws.id)
      .orderBy('seq')
      .execute();
    expect(rows.length).toBeGreaterThanOrEqual(2);
    let prev = GENESIS_HASH;
    rows.forEach((row, i) => {
      expect(row.seq).toBe(i + 1);
      expect(row.prev_hash).toBe(prev);
      expect(row.hash).toBe(chainHash(prev, chainedFields(row)));
      prev = row.hash;
    });
    const head = await t.services.db
      .selectFrom('audit_heads')
      .selectAll()
      .where('workspace_id', '=', ws.id)
      .executeTakeFirstOrThrow();
    expect(head).toMatchObject({ seq: rows.length, hash: prev });
  });

  it('records who did it, from where, with the request id', async () => {
    const session = await signup(t.app);
    const ws = await createWorkspace(t.app, session, 'Who');
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/v1/workspaces/${ws.slug}/settings`,
      headers: { ...session.headers, 'user-agent': 'audit-test/1.0' },
      payload: { timezone: 'Europe/Berlin' },
    });
    expect(res.statusCode).toBe(200);
    const row = await t.services.db
      .selectFrom('audit_log')
      .selectAll()
      .where('workspace_id', '=', ws.id)
      .where('event', '=', 'workspace.settings_changed')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      actor_type: 'user',
      actor_id: session.user.id,
      actor_name: session.user.email,
      target_type: 'workspace',
      target_id: ws.id,
      user_agent: 'audit-test/1.0',
      ip: '127.0.0.1',
      request_id: res.headers['x-request-id'],
    });
    expect(JSON.parse(row.changes ?? 'null')).toEqual({ timezone: { from: 'UTC', to: 'Europe/Berlin' } });
  });
});
