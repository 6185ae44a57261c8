import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, createWorkspace, dialects, signup, type TestApp } from '../helpers.js';

describe.each(dialects())('%s: the usage buffer', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  it('writes hundreds of last-use times in chunks and never moves one backwards', async () => {
    const session = await signup(t.app);
    const ws = await createWorkspace(t.app, session, 'Usage');
    const now = t.clock.now();
    const rows = Array.from({ length: 600 }, (_, i) => ({
      id: `tok_usage${String(i).padStart(19, '0')}`,
      workspace_id: ws.id,
      name: `usage-${i}`,
      name_lower: `usage-${i}`,
      scopes: '["tokens:read"]',
      metadata: '{}',
      hint: 'tkn_AAAA…AA',
      created_at: now,
      created_by: 'test',
      created_by_id: 'test',
      expires_at: null,
      revoked_at: null,
      rotated_at: null,
      last_used_at: i === 0 ? now + 10_000 : null,
      expired_recorded_at: null,
      expiring_7d_at: null,
      expiring_1d_at: null,
    }));
    for (let i = 0; i < rows.length; i += 100)
      await t.services.db
        .insertInto('tokens')
        .values(rows.slice(i, i + 100))
        .execute();
    for (const [i, row] of rows.entries()) t.services.usage.tokenUsed(row.id, now + i);
    expect(t.services.usage.pending()).toBe(600);
    await t.services.usage.flush();
    expect(t.services.usage.pending()).toBe(0);
    const stored = await t.services.db
      .selectFrom('tokens')
      .select(['id', 'last_used_at'])
      .where('workspace_id', '=', ws.id)
      .execute();
    const byId = new Map(stored.map((r) => [r.id, r.last_used_at]));
    expect(byId.get(rows[0]?.id ?? '')).toBe(now + 10_000); // a later time already stored is kept
    for (const [i, row] of rows.entries()) if (i > 0) expect(byId.get(row.id)).toBe(now + i);
  });
});
