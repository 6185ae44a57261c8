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

describe.each(dialects())('%s: the walk-through of the README', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  it('signs up, creates a workspace and an API key, and calls the API with it', async () => {
    const session = await signup(t.app);
    const ws = await createWorkspace(t.app, session, 'Acme Production');
    expect(ws.slug).toBe('acme-production');
    const key = await createApiKey(t.app, session, ws.slug);
    expect(key.key).toMatch(/^tok_live_/);
    const res = await t.app.inject({ method: 'GET', url: '/v1/settings', headers: bearer(key.key) });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toMatchObject({
      id: ws.id,
      slug: 'acme-production',
      timezone: 'UTC',
      default_token_expiration_days: 90,
    });
    expect(res.headers['x-ratelimit-limit']).toBe('1000');
  });
});
