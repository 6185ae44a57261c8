import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, dialects, signup, type TestApp } from '../helpers.js';

describe.each(dialects())('%s: the session cookie', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  it('is sent again when an active session is refreshed, so the browser keeps it 14 days from the last use', async () => {
    const session = await signup(t.app);
    const me = () => t.app.inject({ method: 'GET', url: '/v1/me', headers: { cookie: session.cookie } });
    const fresh = await me();
    expect(fresh.statusCode).toBe(200);
    expect(fresh.headers['set-cookie']).toBeUndefined();

    t.clock.advance(10 * 24 * 3600 * 1000);
    const renewed = await me();
    expect(renewed.statusCode).toBe(200);
    const cookie = String(renewed.headers['set-cookie']);
    expect(cookie).toContain(`${session.cookie};`);
    expect(cookie).toContain('Max-Age=1209600');
    expect(cookie).toContain('HttpOnly');

    await t.services.usage.flush();
    expect((await me()).headers['set-cookie']).toBeUndefined();
    // Ten more days: still alive, because it was used in between.
    t.clock.advance(10 * 24 * 3600 * 1000);
    expect((await me()).statusCode).toBe(200);
  });
});
