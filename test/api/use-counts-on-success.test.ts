import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createApiKey,
  createTestApp,
  createWorkspace,
  dialects,
  json,
  signup,
  type TestApp,
} from '../helpers.js';

describe.each(dialects())('%s: what counts as a use', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  const lastUsed = async (table: 'tokens' | 'api_keys', id: string) =>
    (
      await t.services.db
        .selectFrom(table)
        .select('last_used_at')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
    ).last_used_at;

  it('records a token or key as used only when the call it made was allowed', async () => {
    const session = await signup(t.app);
    const ws = await createWorkspace(t.app, session, 'Uses');
    const viewerKey = await createApiKey(t.app, session, ws.slug, {
      name: 'viewer',
      kind: 'team',
      role: 'viewer',
    });
    const adminKey = await createApiKey(t.app, session, ws.slug);
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(adminKey.key),
      payload: { name: 'reader', scopes: ['tokens:read'] },
    });
    const token = json(created);

    // Refused calls: a token without the scope, a viewer key creating a token.
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/audit-logs', headers: bearer(token.token) })).statusCode,
    ).toBe(403);
    const refused = await t.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(viewerKey.key),
      payload: { name: 'nope', scopes: ['tokens:read'] },
    });
    expect(refused.statusCode).toBe(403);
    await t.services.usage.flush();
    expect(await lastUsed('tokens', token.id)).toBeNull();
    expect(await lastUsed('api_keys', viewerKey.id)).toBeNull();

    // Allowed calls count.
    t.clock.advance(1000);
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(token.token) })).statusCode,
    ).toBe(200);
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(viewerKey.key) })).statusCode,
    ).toBe(200);
    await t.services.usage.flush();
    expect(await lastUsed('tokens', token.id)).toBe(t.clock.now());
    expect(await lastUsed('api_keys', viewerKey.id)).toBe(t.clock.now());
  });
});
