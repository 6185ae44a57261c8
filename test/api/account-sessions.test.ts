import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestApp,
  dialects,
  expectError,
  json,
  PASSWORD,
  type Session,
  sessionFrom,
  signup,
  type TestApp,
  uniqueEmail,
} from '../helpers.js';

describe.each(dialects())('%s: your sessions', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  const login = async (email: string, userAgent: string, remoteAddress: string): Promise<Session> => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email, password: PASSWORD },
      headers: { 'user-agent': userAgent },
      remoteAddress,
    });
    expect(res.statusCode).toBe(200);
    return sessionFrom(res);
  };
  const list = async (session: Session) => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/me/sessions',
      headers: { cookie: session.cookie },
    });
    expect(res.statusCode, res.body).toBe(200);
    return json(res).data as Record<string, unknown>[];
  };
  const end = (session: Session, id: string) =>
    t.app.inject({ method: 'DELETE', url: `/v1/me/sessions/${id}`, headers: session.headers });
  const me = (session: Session) =>
    t.app.inject({ method: 'GET', url: '/v1/me', headers: { cookie: session.cookie } });
  const secretOf = (session: Session) => session.cookie.split('=')[1] ?? '';

  it('lists them with a public id, when, from where (user agent, IP) and which is this one', async () => {
    const email = uniqueEmail('sessions');
    await signup(t.app, email);
    t.clock.advance(1000);
    const laptop = await login(email, 'Laptop/1.0', '203.0.113.10');
    t.clock.advance(1000);
    const phone = await login(email, 'Phone/2.0', '203.0.113.20');
    const seen = await list(laptop);
    expect(seen).toHaveLength(3);
    for (const row of seen) {
      expect(Object.keys(row).sort()).toEqual([
        'created_at',
        'current',
        'id',
        'ip',
        'last_seen_at',
        'user_agent',
      ]);
      expect(row.id).toMatch(/^ses_[0-9a-z]{24}$/);
    }
    expect(seen[0]).toMatchObject({ user_agent: 'Phone/2.0', ip: '203.0.113.20', current: false });
    expect(seen[1]).toMatchObject({ user_agent: 'Laptop/1.0', ip: '203.0.113.10', current: true });
    expect(seen.filter((row) => row.current)).toHaveLength(1);
    // Neither the cookie's secret nor its digest is ever shown.
    const body = JSON.stringify(await list(phone));
    for (const session of [laptop, phone]) {
      expect(body).not.toContain(secretOf(session));
      expect(body).not.toContain(createHash('sha256').update(secretOf(session)).digest('hex'));
    }
  });

  it('updates last_seen_at through the batched buffer, not with a write per request', async () => {
    const session = await signup(t.app);
    const [before] = await list(session);
    t.clock.advance(2 * 60 * 1000);
    expect((await me(session)).statusCode).toBe(200);
    // Noted in memory only: the stored time has not moved yet.
    expect((await list(session))[0]?.last_seen_at).toBe(before?.last_seen_at);
    await t.services.usage.flush();
    expect((await list(session))[0]?.last_seen_at).toBe(new Date(t.clock.now()).toISOString());
  });

  it('ends one of your own sessions by id; another person’s or an unknown id is 404', async () => {
    const email = uniqueEmail('end');
    const mine = await signup(t.app, email);
    const other = await login(email, 'Other/1.0', '203.0.113.30');
    const stranger = await signup(t.app);
    const otherId = (await list(other)).find((row) => row.current)?.id as string;
    expectError(await end(stranger, otherId), 404, 'not_found');
    expect((await me(other)).statusCode).toBe(200);
    expectError(await end(mine, 'ses_doesnotexist'), 404, 'not_found');
    expect((await end(mine, otherId)).statusCode).toBe(204);
    expectError(await me(other), 401, 'unauthorized');
    expect((await me(mine)).statusCode).toBe(200);
    expectError(await end(mine, otherId), 404, 'not_found');
  });

  it('ending the current session signs it out and clears the cookie', async () => {
    const session = await signup(t.app);
    const id = (await list(session))[0]?.id as string;
    const res = await end(session, id);
    expect(res.statusCode).toBe(204);
    expect(String(res.headers['set-cookie'])).toMatch(/tooken_session=;.*Max-Age=0/);
    expectError(await me(session), 401, 'unauthorized');
  });

  it('signs out everywhere else and keeps this session', async () => {
    const email = uniqueEmail('elsewhere');
    const here = await signup(t.app, email);
    const a = await login(email, 'A/1', '203.0.113.40');
    const b = await login(email, 'B/1', '203.0.113.41');
    const stranger = await signup(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/me/sessions/revoke-others',
      headers: here.headers,
    });
    expect(res.statusCode).toBe(204);
    expectError(await me(a), 401, 'unauthorized');
    expectError(await me(b), 401, 'unauthorized');
    expect((await me(here)).statusCode).toBe(200);
    expect((await me(stranger)).statusCode).toBe(200);
    expect(await list(here)).toEqual([expect.objectContaining({ current: true })]);
  });
});
