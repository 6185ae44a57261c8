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

describe.each(dialects())('%s: verify with unusual strings', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  it('answers 200 NOT_FOUND for any string, NUL characters included, and 400 elsewhere', async () => {
    const session = await signup(t.app);
    const ws = await createWorkspace(t.app, session, 'Strings');
    const key = await createApiKey(t.app, session, ws.slug);
    for (const token of ['tkn_\u0000', '\u0000', 'tkn_'.padEnd(44, '\u0000'), '']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/tokens/verify',
        headers: bearer(key.key),
        payload: { token },
      });
      expect(res.statusCode).toBe(200);
      expect(json(res)).toEqual({ valid: false, code: 'NOT_FOUND' });
    }
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(key.key),
      payload: { name: 'nul\u0000name', scopes: ['tokens:read'] },
    });
    expect(created.statusCode).toBe(400);
  });
});
