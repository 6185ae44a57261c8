import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { InvitationsTable } from '../../src/db/schema.js';
import { newId } from '../../src/ids.js';
import {
  addMember,
  auditRows,
  bearer,
  createApiKey,
  createTestApp,
  createWorkspace,
  dialects,
  json,
  ownerWorkspace,
  PASSWORD,
  type Session,
  sessionFrom,
  signup,
  type TestApp,
  uniqueEmail,
} from '../helpers.js';

/** Counts argon2id hashes, to show which requests pay for one (the real hash is still computed). */
const hashing = vi.hoisted(() => ({ count: 0 }));
vi.mock('../../src/accounts/passwords.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/accounts/passwords.js')>();
  return {
    ...real,
    hashPassword: (password: string) => {
      hashing.count += 1;
      return real.hashPassword(password);
    },
  };
});

const MINUTE = 60 * 1000;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const DAY = 24 * 60 * MINUTE;

/** Every login in this file comes from its own address unless a test says otherwise, so the
 * per-IP throttle of one test never leaks into another. */
let ipCounter = 0;
function nextIp(): string {
  ipCounter += 1;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

function login(
  app: FastifyInstance,
  email: string,
  password: string,
  ip: string = nextIp(),
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { email, password },
    remoteAddress: ip,
  });
}

function signupRaw(
  app: FastifyInstance,
  payload: Record<string, unknown>,
  ip?: string,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/v1/auth/signup',
    payload,
    ...(ip === undefined ? {} : { remoteAddress: ip }),
  });
}

function me(app: FastifyInstance, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url: '/v1/me', headers });
}

/** The attributes of the session cookie set by a response, lower-cased. */
function cookieAttributes(res: LightMyRequestResponse): { value: string; attributes: string[] } {
  const header = res.headers['set-cookie'];
  const line = Array.isArray(header) ? header.join('\n') : String(header);
  const [pair = '', ...rest] = line.split(';').map((part) => part.trim());
  expect(pair.startsWith('tooken_session=')).toBe(true);
  return { value: pair.slice('tooken_session='.length), attributes: rest.map((a) => a.toLowerCase()) };
}

function expectValidationError(res: LightMyRequestResponse, field: string): void {
  expect(res.statusCode).toBe(400);
  const body = json(res);
  expect(body).toMatchObject({ error: 'bad_request', status: 400, request_id: res.headers['x-request-id'] });
  expect(body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
  for (const detail of body.details) expect(typeof detail.message).toBe('string');
}

describe.each(dialects())('%s: accounts', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  describe('POST /v1/auth/signup', () => {
    it('answers 201 with the user and a CSRF token and sets an HttpOnly, SameSite=Lax session cookie', async () => {
      const email = uniqueEmail('signup');
      const res = await signupRaw(t.app, { email, password: PASSWORD, name: 'Ada Lovelace' });
      expect(res.statusCode).toBe(201);
      const body = json(res);
      expect(Object.keys(body).sort()).toEqual(['csrf_token', 'user']);
      expect(Object.keys(body.user).sort()).toEqual(['created_at', 'email', 'id', 'name']);
      expect(body.user).toEqual({
        id: expect.stringMatching(/^usr_[a-z0-9]{24}$/),
        email,
        name: 'Ada Lovelace',
        created_at: '2026-01-15T09:00:00.000Z',
      });
      expect(body.csrf_token).toEqual(expect.any(String));
      expect(body.csrf_token.length).toBeGreaterThanOrEqual(20);
      const cookie = cookieAttributes(res);
      expect(cookie.value.length).toBeGreaterThanOrEqual(20);
      expect(cookie.attributes).toContain('httponly');
      expect(cookie.attributes).toContain('samesite=lax');
      expect(cookie.attributes).toContain('path=/');
      // Served over plain http here, so the cookie must not be marked Secure.
      expect(cookie.attributes).not.toContain('secure');
      expect(JSON.stringify(body)).not.toContain(PASSWORD);
    });

    it('does not mark the cookie Secure on X-Forwarded-Proto from an untrusted client', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/signup',
        headers: { 'x-forwarded-proto': 'https' },
        payload: { email: uniqueEmail('untrusted'), password: PASSWORD },
      });
      expect(res.statusCode).toBe(201);
      expect(cookieAttributes(res).attributes).not.toContain('secure');
    });

    it('signs the new user in: the cookie reaches GET /v1/me', async () => {
      const session = await signup(t.app);
      const res = await me(t.app, { cookie: session.cookie });
      expect(res.statusCode).toBe(200);
      expect(json(res)).toEqual({
        user: { ...session.user, two_factor_enabled: false },
        csrf_token: session.csrf,
        workspaces: [],
      });
    });

    it('stores the email lower-cased and the password as an argon2id hash', async () => {
      const lower = uniqueEmail('mixed');
      const mixed = `MiXeD.${lower.toUpperCase()}`;
      const res = await signupRaw(t.app, { email: mixed, password: PASSWORD });
      expect(res.statusCode).toBe(201);
      expect(json(res).user.email).toBe(mixed.toLowerCase());
      expect(json(res).user.name).toBeNull();
      const row = await t.services.db
        .selectFrom('users')
        .selectAll()
        .where('id', '=', json(res).user.id)
        .executeTakeFirstOrThrow();
      expect(row.email).toBe(mixed.toLowerCase());
      expect(row.password_hash.startsWith('$argon2id$')).toBe(true);
      expect(row.password_hash).not.toContain(PASSWORD);
    });

    it('answers 400 naming the field when email or password is missing', async () => {
      expectValidationError(await signupRaw(t.app, { password: PASSWORD }), 'email');
      expectValidationError(await signupRaw(t.app, { email: uniqueEmail() }), 'password');
    });

    it('answers 400 naming the field when an unknown field is sent', async () => {
      const res = await signupRaw(t.app, { email: uniqueEmail(), password: PASSWORD, role: 'owner' });
      expectValidationError(res, 'role');
      expect(json(res).details[0].message).toMatch(/not a known field/);
    });

    it('answers 400 when the password is shorter than 10 or longer than 256 characters', async () => {
      expectValidationError(
        await signupRaw(t.app, { email: uniqueEmail(), password: 'a'.repeat(9) }),
        'password',
      );
      expectValidationError(
        await signupRaw(t.app, { email: uniqueEmail(), password: 'a'.repeat(257) }),
        'password',
      );
    });

    it('accepts passwords of exactly 10 and 256 characters', async () => {
      for (const password of ['a'.repeat(10), 'b'.repeat(256)]) {
        const email = uniqueEmail('bounds');
        expect((await signupRaw(t.app, { email, password })).statusCode).toBe(201);
        expect((await login(t.app, email, password)).statusCode).toBe(200);
      }
    });

    it('answers 400 when the email is not an email address', async () => {
      for (const email of ['not-an-email', 'a@', '@example.com', 'two words@example.com', '', 42]) {
        expectValidationError(await signupRaw(t.app, { email, password: PASSWORD }), 'email');
      }
    });

    it('answers 400 when the name is empty or longer than 100 characters', async () => {
      expectValidationError(
        await signupRaw(t.app, { email: uniqueEmail(), password: PASSWORD, name: '' }),
        'name',
      );
      expectValidationError(
        await signupRaw(t.app, { email: uniqueEmail(), password: PASSWORD, name: 'n'.repeat(101) }),
        'name',
      );
    });

    it('answers 400 naming invitation_token when it is not a string of URL-safe characters', async () => {
      for (const invitation_token of [42, null, '', 'has space', 'a'.repeat(201)]) {
        expectValidationError(
          await signupRaw(t.app, { email: uniqueEmail(), password: PASSWORD, invitation_token }),
          'invitation_token',
        );
      }
    });

    it('answers 409 when the email is already registered, in any case', async () => {
      const email = uniqueEmail('dup');
      expect((await signupRaw(t.app, { email, password: PASSWORD })).statusCode).toBe(201);
      for (const again of [email, email.toUpperCase()]) {
        const res = await signupRaw(t.app, { email: again, password: 'another password' });
        expect(res.statusCode).toBe(409);
        expect(json(res)).toMatchObject({ error: 'conflict', status: 409 });
      }
      const rows = await t.services.db.selectFrom('users').select('id').where('email', '=', email).execute();
      expect(rows).toHaveLength(1);
      // The original password still works: the duplicate did not overwrite anything.
      expect((await login(t.app, email, PASSWORD)).statusCode).toBe(200);
    });
  });

  describe('POST /v1/auth/login', () => {
    it('answers 200 with the user and a CSRF token and sets a fresh session cookie', async () => {
      const session = await signup(t.app);
      const res = await login(t.app, session.user.email, PASSWORD);
      expect(res.statusCode).toBe(200);
      const body = json(res);
      expect(body).toEqual({ user: session.user, csrf_token: expect.any(String) });
      const cookie = cookieAttributes(res);
      expect(cookie.attributes).toContain('httponly');
      expect(cookie.attributes).toContain('samesite=lax');
      expect(`tooken_session=${cookie.value}`).not.toBe(session.cookie);
      expect(body.csrf_token).not.toBe(session.csrf);
      const fresh = sessionFrom(res);
      const who = await me(t.app, { cookie: fresh.cookie });
      expect(who.statusCode).toBe(200);
      expect(json(who).csrf_token).toBe(body.csrf_token);
      // The sign-up session is still valid too: sessions are independent.
      expect((await me(t.app, { cookie: session.cookie })).statusCode).toBe(200);
    });

    it('compares the email case-insensitively', async () => {
      const session = await signup(t.app);
      const res = await login(t.app, session.user.email.toUpperCase(), PASSWORD);
      expect(res.statusCode).toBe(200);
      expect(json(res).user.email).toBe(session.user.email);
    });

    it('answers 401 to a wrong password and to an unknown email, with the same message', async () => {
      const session = await signup(t.app);
      const wrong = await login(t.app, session.user.email, 'not the password');
      const unknown = await login(t.app, uniqueEmail('nobody'), PASSWORD);
      for (const res of [wrong, unknown]) {
        expect(res.statusCode).toBe(401);
        expect(res.headers['set-cookie']).toBeUndefined();
        expect(json(res)).toMatchObject({ error: 'unauthorized', status: 401 });
      }
      expect(json(wrong).message).toBe(json(unknown).message);
    });

    it('answers 400 naming the field when a field is missing or unknown', async () => {
      const email = uniqueEmail();
      const inject = (payload: Record<string, unknown>) =>
        t.app.inject({ method: 'POST', url: '/v1/auth/login', payload, remoteAddress: nextIp() });
      expectValidationError(await inject({ email }), 'password');
      expectValidationError(await inject({ password: PASSWORD }), 'email');
      expectValidationError(await inject({ email, password: PASSWORD, remember: true }), 'remember');
      expectValidationError(await inject({ email, password: 12345678901 }), 'password');
    });
  });

  describe('sign-up throttling', () => {
    it('checks the address before hashing: parallel sign-ups for a registered email compute no hash', async () => {
      const taken = (await signup(t.app)).user.email;
      const before = hashing.count;
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          signupRaw(t.app, { email: taken, password: `attempt number ${i}` }, nextIp()),
        ),
      );
      expect(results.map((r) => r.statusCode)).toEqual(Array(40).fill(409));
      expect(hashing.count - before).toBe(0);
    });

    it('counts refused sign-ups toward the per-IP failure budget: after 20 the address gets 429', async () => {
      const ip = nextIp();
      const taken = (await signup(t.app)).user.email;
      const someone = await signup(t.app);
      for (let i = 0; i < 20; i++) {
        expect((await signupRaw(t.app, { email: taken, password: PASSWORD }, ip)).statusCode).toBe(409);
      }
      const blocked = await signupRaw(t.app, { email: uniqueEmail('fresh'), password: PASSWORD }, ip);
      expect(blocked.statusCode).toBe(429);
      expect(json(blocked)).toMatchObject({ error: 'rate_limited', status: 429 });
      expect(blocked.headers['retry-after']).toBe('900');
      expect(blocked.headers['set-cookie']).toBeUndefined();
      // One budget: sign-in from that address is throttled too, elsewhere it is not.
      expect((await login(t.app, someone.user.email, PASSWORD, ip)).statusCode).toBe(429);
      expect((await login(t.app, someone.user.email, PASSWORD)).statusCode).toBe(200);
      t.clock.advance(15 * MINUTE);
      expect(
        (await signupRaw(t.app, { email: uniqueEmail('later'), password: PASSWORD }, ip)).statusCode,
      ).toBe(201);
    });

    it('throttles a burst of parallel sign-ups for a registered email from one IP', async () => {
      const ip = nextIp();
      const taken = (await signup(t.app)).user.email;
      const results = await Promise.all(
        Array.from({ length: 40 }, () => signupRaw(t.app, { email: taken, password: PASSWORD }, ip)),
      );
      const statuses = results.map((r) => r.statusCode);
      expect(statuses.filter((s) => s !== 409 && s !== 429)).toEqual([]);
      expect(statuses.filter((s) => s === 409).length).toBeLessThanOrEqual(20);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(20);
    });

    it('never counts a successful sign-up', async () => {
      const ip = nextIp();
      for (let i = 0; i < 25; i++) {
        const res = await signupRaw(t.app, { email: uniqueEmail('many'), password: PASSWORD }, ip);
        expect(res.statusCode).toBe(201);
      }
      // The address still has its whole budget of 20 failures.
      for (let i = 0; i < 20; i++) {
        expect((await login(t.app, uniqueEmail('nobody'), 'wrong password', ip)).statusCode).toBe(401);
      }
      expect((await login(t.app, uniqueEmail('nobody'), 'wrong password', ip)).statusCode).toBe(429);
    });
  });

  describe('login throttling', () => {
    it('answers 429 with Retry-After after 5 failures for one email, even with the right password', async () => {
      const session = await signup(t.app);
      const email = session.user.email;
      // Different addresses and different spellings of the email: it is the email that counts.
      for (let i = 0; i < 5; i++) {
        const spelled = i % 2 === 0 ? email : email.toUpperCase();
        expect((await login(t.app, spelled, `wrong password ${i}`)).statusCode).toBe(401);
      }
      const res = await login(t.app, email, PASSWORD);
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBe('900');
      expect(json(res)).toMatchObject({ error: 'rate_limited', status: 429 });
      expect(res.headers['set-cookie']).toBeUndefined();
      // Another account is not affected.
      const other = await signup(t.app);
      expect((await login(t.app, other.user.email, PASSWORD)).statusCode).toBe(200);
    });

    it('lets no more than 5 of a burst of parallel guesses for one email be checked', async () => {
      const session = await signup(t.app);
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => login(t.app, session.user.email, `wrong password ${i}`)),
      );
      const statuses = results.map((r) => r.statusCode);
      expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
      const checked = statuses.filter((s) => s === 401).length;
      expect(checked).toBeLessThanOrEqual(5);
      // Refused attempts are not counted: the email gets exactly 5 checked guesses in all.
      let more = 0;
      while (more < 10 && (await login(t.app, session.user.email, 'wrong again')).statusCode === 401) more++;
      expect(checked + more).toBe(5);
      expect((await login(t.app, session.user.email, PASSWORD)).statusCode).toBe(429);
    });

    it('lets no more than 20 of a burst of parallel guesses from one IP be checked', async () => {
      const ip = nextIp();
      const results = await Promise.all(
        Array.from({ length: 40 }, () => login(t.app, uniqueEmail('burst'), 'wrong password', ip)),
      );
      const statuses = results.map((r) => r.statusCode);
      expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
      const checked = statuses.filter((s) => s === 401).length;
      expect(checked).toBeLessThanOrEqual(20);
      let more = 0;
      while (more < 30 && (await login(t.app, uniqueEmail('after'), 'wrong', ip)).statusCode === 401) more++;
      expect(checked + more).toBe(20);
    });

    it('counts down Retry-After and reopens once the 15-minute window has passed', async () => {
      const session = await signup(t.app);
      const email = session.user.email;
      for (let i = 0; i < 5; i++) await login(t.app, email, 'wrong password');
      t.clock.advance(10 * MINUTE);
      const waiting = await login(t.app, email, PASSWORD);
      expect(waiting.statusCode).toBe(429);
      expect(waiting.headers['retry-after']).toBe('300');
      t.clock.advance(5 * MINUTE - 1000);
      const almost = await login(t.app, email, PASSWORD);
      expect(almost.statusCode).toBe(429);
      expect(almost.headers['retry-after']).toBe('1');
      t.clock.advance(1000);
      expect((await login(t.app, email, PASSWORD)).statusCode).toBe(200);
    });

    it('answers 429 after 20 failures from one IP across different emails', async () => {
      const ip = nextIp();
      const victim = await signup(t.app);
      for (let i = 0; i < 20; i++) {
        expect((await login(t.app, uniqueEmail('spray'), 'wrong password', ip)).statusCode).toBe(401);
      }
      const blocked = await login(t.app, victim.user.email, PASSWORD, ip);
      expect(blocked.statusCode).toBe(429);
      expect(Number(blocked.headers['retry-after'])).toBe(900);
      // The same account from another address is fine: only the IP is throttled.
      expect((await login(t.app, victim.user.email, PASSWORD)).statusCode).toBe(200);
      t.clock.advance(15 * MINUTE);
      expect((await login(t.app, victim.user.email, PASSWORD, ip)).statusCode).toBe(200);
    });

    it('reports the longer wait when both the email and the IP are throttled', async () => {
      const ip = nextIp();
      const session = await signup(t.app);
      const email = session.user.email;
      for (let i = 0; i < 5; i++) await login(t.app, email, 'wrong password');
      t.clock.advance(10 * MINUTE);
      for (let i = 0; i < 20; i++) await login(t.app, uniqueEmail('spray'), 'wrong password', ip);
      // The email reopens in 5 minutes, the IP only in 15: Retry-After must cover both.
      const res = await login(t.app, email, PASSWORD, ip);
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBe('900');
      t.clock.advance(5 * MINUTE);
      const still = await login(t.app, email, PASSWORD, ip);
      expect(still.statusCode).toBe(429);
      expect(still.headers['retry-after']).toBe('600');
      t.clock.advance(10 * MINUTE);
      expect((await login(t.app, email, PASSWORD, ip)).statusCode).toBe(200);
    });

    it('ignores X-Forwarded-For when the proxy is not trusted', async () => {
      const ip = nextIp();
      for (let i = 0; i < 20; i++) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/auth/login',
          payload: { email: uniqueEmail('xff'), password: 'wrong password' },
          remoteAddress: ip,
          headers: { 'x-forwarded-for': `203.0.113.${i}` },
        });
        expect(res.statusCode).toBe(401);
      }
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email: uniqueEmail('xff'), password: 'wrong password' },
        remoteAddress: ip,
        headers: { 'x-forwarded-for': '198.51.100.1' },
      });
      expect(res.statusCode).toBe(429);
    });

    it('resets the email count on success but not the IP count', async () => {
      const ip = nextIp();
      const session = await signup(t.app);
      const email = session.user.email;
      for (let i = 0; i < 4; i++) expect((await login(t.app, email, 'wrong', ip)).statusCode).toBe(401);
      expect((await login(t.app, email, PASSWORD, ip)).statusCode).toBe(200);
      // Had the success not reset the email count, these 4 would make 8 and block the next login.
      for (let i = 0; i < 4; i++) expect((await login(t.app, email, 'wrong', ip)).statusCode).toBe(401);
      expect((await login(t.app, email, PASSWORD, ip)).statusCode).toBe(200);
      // The IP has 8 failures; 12 more make 20 even though two logins succeeded in between.
      for (let i = 0; i < 12; i++) {
        expect((await login(t.app, uniqueEmail('other'), 'wrong', ip)).statusCode).toBe(401);
      }
      const res = await login(t.app, email, PASSWORD, ip);
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBeDefined();
    });
  });

  describe('POST /v1/auth/logout', () => {
    it('answers 204, clears the cookie and ends the session', async () => {
      const session = await signup(t.app);
      const other = sessionFrom(await login(t.app, session.user.email, PASSWORD));
      const res = await t.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: session.headers });
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe('');
      const cookie = cookieAttributes(res);
      expect(cookie.value).toBe('');
      expect(cookie.attributes).toContain('max-age=0');
      const after = await me(t.app, { cookie: session.cookie });
      expect(after.statusCode).toBe(401);
      expect(json(after)).toMatchObject({ error: 'unauthorized', status: 401 });
      // Only that session ended; the user's other session goes on.
      expect((await me(t.app, { cookie: other.cookie })).statusCode).toBe(200);
    });

    it('answers 403 without the CSRF header and keeps the session', async () => {
      const session = await signup(t.app);
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/logout',
        headers: { cookie: session.cookie },
      });
      expect(res.statusCode).toBe(403);
      expect(json(res)).toMatchObject({ error: 'forbidden', status: 403 });
      expect((await me(t.app, { cookie: session.cookie })).statusCode).toBe(200);
    });

    it('answers 401 without a session', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/v1/auth/logout' });
      expect(res.statusCode).toBe(401);
    });
  });

  describe('session storage', () => {
    it('stores only a SHA-256 digest of the session secret, and logs neither it nor the password', async () => {
      const email = uniqueEmail('stored');
      const res = await signupRaw(t.app, { email, password: PASSWORD });
      const { value: secret } = cookieAttributes(res);
      const rows = await t.services.db
        .selectFrom('sessions')
        .selectAll()
        .where('user_id', '=', json(res).user.id)
        .execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]?.id_digest).toBe(createHash('sha256').update(secret).digest('hex'));
      expect(JSON.stringify(rows)).not.toContain(secret);
      await me(t.app, { cookie: `tooken_session=${secret}` });
      await login(t.app, email, PASSWORD);
      const logs = t.logs.join('\n');
      expect(logs).not.toContain(secret);
      expect(logs).not.toContain(PASSWORD);
      expect(logs).not.toContain(json(res).csrf_token);
    });
  });

  describe('session expiry', () => {
    it('keeps an unused session for 14 days and ends it after that', async () => {
      const early = await signup(t.app); // looked at just before the limit
      const late = await signup(t.app); // looked at just after it
      t.clock.advance(14 * DAY - 1000);
      expect((await me(t.app, { cookie: early.cookie })).statusCode).toBe(200);
      t.clock.advance(2000);
      const res = await me(t.app, { cookie: late.cookie });
      expect(res.statusCode).toBe(401);
      expect(json(res)).toMatchObject({ error: 'unauthorized', status: 401 });
      const create = await t.app.inject({
        method: 'POST',
        url: '/v1/workspaces',
        headers: late.headers,
        payload: { name: 'Too Late' },
      });
      expect(create.statusCode).toBe(401);
    });

    it('keeps a session that is used alive past 14 days since sign-in', async () => {
      const session = await signup(t.app);
      t.clock.advance(13 * DAY);
      expect((await me(t.app, { cookie: session.cookie })).statusCode).toBe(200);
      await t.services.usage.flush();
      t.clock.advance(13 * DAY);
      expect((await me(t.app, { cookie: session.cookie })).statusCode).toBe(200);
      await t.services.usage.flush();
      t.clock.advance(14 * DAY + 1000);
      expect((await me(t.app, { cookie: session.cookie })).statusCode).toBe(401);
    });
  });

  describe('the session cookie', () => {
    it('is sent again when an active session is refreshed, so the browser keeps it 14 days from the last use', async () => {
      const session = await signup(t.app);
      const meNow = () => me(t.app, { cookie: session.cookie });
      const fresh = await meNow();
      expect(fresh.statusCode).toBe(200);
      expect(fresh.headers['set-cookie']).toBeUndefined();

      t.clock.advance(10 * DAY);
      const renewed = await meNow();
      expect(renewed.statusCode).toBe(200);
      const cookie = String(renewed.headers['set-cookie']);
      expect(cookie).toContain(`${session.cookie};`);
      expect(cookie).toContain('Max-Age=1209600');
      expect(cookie).toContain('HttpOnly');

      await t.services.usage.flush();
      expect((await meNow()).headers['set-cookie']).toBeUndefined();
      // Ten more days: still alive, because it was used in between.
      t.clock.advance(10 * DAY);
      expect((await meNow()).statusCode).toBe(200);
    });
  });

  describe('GET /v1/me', () => {
    it('returns the user, the CSRF token and the workspaces with the role in each', async () => {
      const { session, ws: own } = await ownerWorkspace(t.app);
      const { ws: shared } = await ownerWorkspace(t.app);
      await addMember(t.services, shared.id, session.user.id, 'viewer');
      const res = await me(t.app, { cookie: session.cookie });
      expect(res.statusCode).toBe(200);
      const body = json(res);
      expect(body.user).toEqual({ ...session.user, two_factor_enabled: false });
      expect(body.csrf_token).toBe(session.csrf);
      expect(body.workspaces).toHaveLength(2);
      expect(body.workspaces).toEqual(
        expect.arrayContaining([
          { id: own.id, name: own.name, slug: own.slug, role: 'owner', two_factor_required: false },
          { id: shared.id, name: shared.name, slug: shared.slug, role: 'viewer', two_factor_required: false },
        ]),
      );
    });

    it('answers 403 to an API key', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      for (const kind of ['team', 'personal']) {
        const key = await createApiKey(t.app, session, ws.slug, { name: `me-${kind}`, kind });
        const res = await me(t.app, bearer(key.key));
        expect(res.statusCode).toBe(403);
        expect(json(res)).toMatchObject({ error: 'forbidden', status: 403 });
      }
    });

    it('answers 401 in the standard error shape without a credential', async () => {
      const res = await me(t.app);
      expect(res.statusCode).toBe(401);
      const requestId = res.headers['x-request-id'];
      expect(requestId).toEqual(expect.any(String));
      expect(json(res)).toEqual({
        error: 'unauthorized',
        message: 'Invalid or missing API key',
        status: 401,
        request_id: requestId,
      });
    });

    it('answers 401 to an unknown or malformed session cookie and to a bad bearer key', async () => {
      for (const cookie of [
        'tooken_session=thisisnotarealsessionsecretatall1234',
        'tooken_session=short',
        'tooken_session=',
      ]) {
        const res = await me(t.app, { cookie });
        expect(res.statusCode).toBe(401);
        expect(json(res).error).toBe('unauthorized');
      }
      const res = await me(t.app, bearer('tok_live_AAAAAAAAAAAAAAAAAAAA'));
      expect(res.statusCode).toBe(401);
      expect(json(res).message).toBe('Invalid or missing API key');
    });

    it('echoes a well-formed incoming X-Request-Id in the header and the error body', async () => {
      const res = await me(t.app, { 'x-request-id': 'trace-abc.123' });
      expect(res.headers['x-request-id']).toBe('trace-abc.123');
      expect(json(res).request_id).toBe('trace-abc.123');
    });
  });

  describe('CSRF protection of cookie sessions', () => {
    it('answers 403 to POST without X-CSRF-Token, with a wrong one or with another session’s', async () => {
      const session = await signup(t.app);
      const other = await signup(t.app);
      for (const csrf of [undefined, 'wrong-token', '', other.csrf]) {
        const headers: Record<string, string> = { cookie: session.cookie };
        if (csrf !== undefined) headers['x-csrf-token'] = csrf;
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/workspaces',
          headers,
          payload: { name: 'Forged' },
        });
        expect(res.statusCode).toBe(403);
        expect(json(res)).toMatchObject({ error: 'forbidden', status: 403 });
      }
      const list = await t.app.inject({
        method: 'GET',
        url: '/v1/workspaces',
        headers: { cookie: session.cookie },
      });
      expect(json(list).meta.total).toBe(0);
    });

    it('answers 403 to PATCH and DELETE without X-CSRF-Token and changes nothing', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const patch = await t.app.inject({
        method: 'PATCH',
        url: `/v1/workspaces/${ws.slug}/settings`,
        headers: { cookie: session.cookie },
        payload: { name: 'Hijacked' },
      });
      expect(patch.statusCode).toBe(403);
      const del = await t.app.inject({
        method: 'DELETE',
        url: `/v1/workspaces/${ws.slug}`,
        headers: { cookie: session.cookie },
        payload: { confirm: ws.slug },
      });
      expect(del.statusCode).toBe(403);
      const settings = await t.app.inject({
        method: 'GET',
        url: `/v1/workspaces/${ws.slug}/settings`,
        headers: { cookie: session.cookie },
      });
      expect(settings.statusCode).toBe(200);
      expect(json(settings).name).toBe(ws.name);
    });

    it('lets GET through with the cookie alone', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      for (const url of ['/v1/me', '/v1/workspaces', `/v1/workspaces/${ws.slug}/settings`]) {
        const res = await t.app.inject({ method: 'GET', url, headers: { cookie: session.cookie } });
        expect(res.statusCode).toBe(200);
      }
    });

    it('does not ask bearer credentials for a CSRF token', async () => {
      const { key } = await ownerWorkspace(t.app, { key: { name: 'personal', kind: 'personal' } });
      const res = await t.app.inject({
        method: 'PATCH',
        url: '/v1/settings',
        headers: bearer(key.key),
        payload: { name: 'Renamed by key' },
      });
      expect(res.statusCode).toBe(200);
      expect(json(res).name).toBe('Renamed by key');
    });
  });
});

describe.each(dialects())('%s: accounts behind a trusted proxy', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_TRUST_PROXY: 'true' });
  });
  afterAll(() => t.close());

  it('marks the session cookie Secure when the request came over https', async () => {
    const https = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/signup',
      headers: { 'x-forwarded-proto': 'https' },
      payload: { email: uniqueEmail('tls'), password: PASSWORD },
    });
    expect(https.statusCode).toBe(201);
    expect(cookieAttributes(https).attributes).toContain('secure');
    const http = await signupRaw(t.app, { email: uniqueEmail('plain'), password: PASSWORD });
    expect(cookieAttributes(http).attributes).not.toContain('secure');
  });

  it('throttles by the forwarded client address', async () => {
    const session = await signup(t.app);
    const from = (client: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        headers: { 'x-forwarded-for': client },
        payload: { email: uniqueEmail('fwd'), password: 'wrong password' },
      });
    for (let i = 0; i < 20; i++) expect((await from('198.51.100.7')).statusCode).toBe(401);
    expect((await from('198.51.100.7')).statusCode).toBe(429);
    // Another client behind the same proxy is not blocked.
    const other = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      headers: { 'x-forwarded-for': '198.51.100.8' },
      payload: { email: session.user.email, password: PASSWORD },
    });
    expect(other.statusCode).toBe(200);
  });
});

/**
 * Trusted proxies as TOOKEN_TRUST_PROXY names them, and the X-Forwarded-For they send for a client
 * that put a forged address of its own first: the proxy next to Tooken is the socket peer
 * (127.0.0.1 in these requests), a proxy in front of it appends 10.0.0.2.
 */
const PROXY_SETUPS = [
  { setting: 'true', chain: (forged: string, client: string) => `${forged}, ${client}` },
  { setting: '1', chain: (forged: string, client: string) => `${forged}, ${client}` },
  { setting: '2', chain: (forged: string, client: string) => `${forged}, ${client}, 10.0.0.2` },
  {
    setting: '127.0.0.1, 10.0.0.0/8',
    chain: (forged: string, client: string) => `${forged}, ${client}, 10.0.0.2`,
  },
] as const;

describe.each(
  dialects().flatMap((dialect) =>
    PROXY_SETUPS.map(({ setting, chain }) => [dialect, setting, chain] as const),
  ),
)('%s: client addresses with TOOKEN_TRUST_PROXY=%s', (dialect, setting, chain) => {
  let t: TestApp;
  let client = 0;
  /** A client address no other test of this app used. */
  const nextClient = () => `198.51.100.${++client}`;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_TRUST_PROXY: setting });
  });
  afterAll(() => t.close());

  it('throttles sign-ins by the address the trusted proxy saw, whatever the client put first', async () => {
    const address = nextClient();
    const attempt = (i: number, email = uniqueEmail('spoof'), password = 'wrong password') =>
      t.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        headers: { 'x-forwarded-for': chain(`6.6.${i}.6`, address) },
        payload: { email, password },
      });
    for (let i = 0; i < 20; i++) expect((await attempt(i)).statusCode).toBe(401);
    const victim = await signup(t.app);
    expect((await attempt(20, victim.user.email, PASSWORD)).statusCode).toBe(429);
  });

  it('records the address the trusted proxy saw in audit entries, not the one the client put first', async () => {
    const address = nextClient();
    const { session, ws } = await ownerWorkspace(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${ws.slug}/api-keys`,
      headers: { ...session.headers, 'x-forwarded-for': chain('6.6.6.6', address) },
      payload: { name: 'behind proxies', kind: 'team' },
    });
    expect(res.statusCode).toBe(201);
    const entries = await auditRows(t.services, ws.id, 'api_key.created');
    expect(entries.map((entry) => entry.ip)).toEqual([address]);
  });
});

describe.each(dialects())('%s: sign-up modes (TOOKEN_SIGNUP)', (dialect) => {
  describe('first-user', () => {
    let t: TestApp;
    let first: { owner: Session; workspaceId: string } | undefined;
    beforeAll(async () => {
      t = await createTestApp(dialect, { TOOKEN_SIGNUP: 'first-user' });
    });
    afterAll(() => t.close());

    /** The first user and their workspace, signing them up if no test has yet. */
    async function firstUser(): Promise<{ owner: Session; workspaceId: string }> {
      if (first === undefined) {
        const owner = await signup(t.app, uniqueEmail('first'));
        first = { owner, workspaceId: (await createWorkspace(t.app, owner, 'First Workspace')).id };
      }
      return first;
    }

    /** Writes an invitation directly and returns its link's secret (only its digest is stored). */
    async function invite(email: string, overrides: Partial<InvitationsTable> = {}): Promise<string> {
      const { owner, workspaceId } = await firstUser();
      const secret = randomBytes(32).toString('base64url');
      await t.services.db
        .insertInto('invitations')
        .values({
          id: newId('inv'),
          workspace_id: workspaceId,
          email,
          role: 'viewer',
          digest: sha256(secret),
          status: 'pending',
          expires_at: t.clock.now() + 7 * DAY,
          invited_by: owner.user.id,
          created_at: t.clock.now(),
          ...overrides,
        })
        .execute();
      return secret;
    }

    it('lets the first user sign up and refuses the next one', async () => {
      const res = await signupRaw(t.app, { email: uniqueEmail('first'), password: PASSWORD });
      expect(res.statusCode).toBe(201);
      const owner = sessionFrom(res);
      first = { owner, workspaceId: (await createWorkspace(t.app, owner, 'First Workspace')).id };

      const second = await signupRaw(t.app, { email: uniqueEmail('second'), password: PASSWORD });
      expect(second.statusCode).toBe(403);
      expect(json(second)).toMatchObject({ error: 'forbidden', status: 403 });
      expect(second.headers['set-cookie']).toBeUndefined();
    });

    it('lets an email with a pending invitation sign up with its link’s token, in any case', async () => {
      const invited = uniqueEmail('invited');
      expect((await signupRaw(t.app, { email: invited, password: PASSWORD })).statusCode).toBe(403);
      const token = await invite(invited);
      const res = await signupRaw(t.app, {
        email: invited.toUpperCase(),
        password: PASSWORD,
        invitation_token: token,
      });
      expect(res.statusCode).toBe(201);
      expect(json(res).user.email).toBe(invited);
    });

    it('refuses an invited email that signs up without the invitation’s token', async () => {
      // Anyone who knows the address (every member can list pending invitations) is not the invitee.
      const invited = uniqueEmail('known');
      const token = await invite(invited);
      const squatter = await signupRaw(t.app, { email: invited, password: 'attacker chosen' });
      expect(squatter.statusCode).toBe(403);
      expect(json(squatter)).toMatchObject({ error: 'forbidden', status: 403 });
      expect(squatter.headers['set-cookie']).toBeUndefined();
      const users = await t.services.db
        .selectFrom('users')
        .select('id')
        .where('email', '=', invited)
        .execute();
      expect(users).toHaveLength(0);
      // The real invitee is not locked out.
      const invitee = await signupRaw(t.app, { email: invited, password: PASSWORD, invitation_token: token });
      expect(invitee.statusCode).toBe(201);
    });

    it('refuses a token that belongs to another address’s invitation, or to none', async () => {
      const invited = uniqueEmail('holder');
      const token = await invite(invited);
      const other = uniqueEmail('other');
      await invite(other);
      for (const invitation_token of [token, randomBytes(32).toString('base64url')]) {
        const res = await signupRaw(t.app, { email: other, password: PASSWORD, invitation_token });
        expect(res.statusCode).toBe(403);
      }
      const stranger = await signupRaw(t.app, {
        email: uniqueEmail('stranger'),
        password: PASSWORD,
        invitation_token: token,
      });
      expect(stranger.statusCode).toBe(403);
      expect(
        await t.services.db.selectFrom('users').select('id').where('email', '=', other).execute(),
      ).toEqual([]);
    });

    it('refuses an email whose invitation has expired, was revoked or was accepted, even with its token', async () => {
      const expired = uniqueEmail('expired');
      const revoked = uniqueEmail('revoked');
      const accepted = uniqueEmail('accepted');
      const tokens = [
        [expired, await invite(expired, { expires_at: t.clock.now() - 1 })],
        [revoked, await invite(revoked, { status: 'revoked' })],
        [accepted, await invite(accepted, { status: 'accepted' })],
      ] as const;
      for (const [email, invitation_token] of tokens) {
        expect((await signupRaw(t.app, { email, password: PASSWORD })).statusCode).toBe(403);
        const res = await signupRaw(t.app, { email, password: PASSWORD, invitation_token });
        expect(res.statusCode).toBe(403);
      }
    });
  });

  describe('first-user, raced', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(dialect, { TOOKEN_SIGNUP: 'first-user' });
    });
    afterAll(() => t.close());

    it('lets only one of several parallel sign-ups on an empty installation become the first user', async () => {
      const burst = await Promise.all(
        Array.from({ length: 5 }, () => signupRaw(t.app, { email: uniqueEmail('race'), password: PASSWORD })),
      );
      const statuses = burst.map((r) => r.statusCode);
      expect(statuses.filter((s) => s !== 201 && s !== 403)).toEqual([]);
      const created = statuses.filter((s) => s === 201).length;
      expect(created).toBeLessThanOrEqual(1);
      const users = await t.services.db.selectFrom('users').select('id').execute();
      expect(users).toHaveLength(created);
      // If every racer was refused the installation is still empty, and the next one gets in.
      const next = await signupRaw(t.app, { email: uniqueEmail('after'), password: PASSWORD });
      expect(next.statusCode).toBe(created === 0 ? 201 : 403);
      expect(await t.services.db.selectFrom('users').select('id').execute()).toHaveLength(1);
    });
  });

  describe('closed', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(dialect, { TOOKEN_SIGNUP: 'closed' });
    });
    afterAll(() => t.close());

    it('counts sign-ups refused for lack of an invitation toward the per-IP failure budget', async () => {
      const ip = '10.250.0.1';
      for (let i = 0; i < 20; i++) {
        expect(
          (await signupRaw(t.app, { email: uniqueEmail('knock'), password: PASSWORD }, ip)).statusCode,
        ).toBe(403);
      }
      const res = await signupRaw(t.app, { email: uniqueEmail('knock'), password: PASSWORD }, ip);
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBe('900');
    });

    it('answers 403 to everyone, even on an empty installation', async () => {
      const res = await signupRaw(t.app, { email: uniqueEmail(), password: PASSWORD });
      expect(res.statusCode).toBe(403);
      expect(json(res)).toMatchObject({ error: 'forbidden', status: 403 });
      const users = await t.services.db.selectFrom('users').select('id').execute();
      expect(users).toHaveLength(0);
    });

    it('still lets an email with a pending invitation sign up (docs/workspaces.md#members)', async () => {
      // No one can sign up here, so the inviting owner and workspace are written directly.
      const db = t.services.db;
      const ownerId = newId('usr');
      const ownerEmail = uniqueEmail('owner');
      const now = t.clock.now();
      await db
        .insertInto('users')
        .values({ id: ownerId, email: ownerEmail, name: null, password_hash: 'x', created_at: now })
        .execute();
      const workspaceId = newId('ws');
      await db
        .insertInto('workspaces')
        .values({
          id: workspaceId,
          name: 'Closed Shop',
          slug: `closed-${randomBytes(3).toString('hex')}`,
          timezone: 'UTC',
          default_token_expiration_days: 90,
          audit_log_retention_days: 90,
          custom_scopes: '[]',
          leak_policy: 'revoke',
          created_at: now,
        })
        .execute();
      // The inviter must still be an Owner of the workspace when the invitation is accepted.
      await db
        .insertInto('members')
        .values({ workspace_id: workspaceId, user_id: ownerId, role: 'owner', joined_at: now })
        .execute();
      const invited = uniqueEmail('invited');
      const token = randomBytes(32).toString('base64url');
      await db
        .insertInto('invitations')
        .values({
          id: newId('inv'),
          workspace_id: workspaceId,
          email: invited,
          role: 'admin',
          digest: sha256(token),
          status: 'pending',
          expires_at: now + 7 * DAY,
          invited_by: ownerEmail,
          invited_by_id: ownerId,
          created_at: now,
        })
        .execute();
      expect(
        (await signupRaw(t.app, { email: uniqueEmail('uninvited'), password: PASSWORD })).statusCode,
      ).toBe(403);
      // The address alone is not enough: it is listed to every member of the workspace.
      expect((await signupRaw(t.app, { email: invited, password: PASSWORD })).statusCode).toBe(403);
      const res = await signupRaw(t.app, { email: invited, password: PASSWORD, invitation_token: token });
      expect(res.statusCode).toBe(201);
      // Signing up does not join the workspace: the invitee accepts with the same link next.
      const session = sessionFrom(res);
      expect(json(await me(t.app, session.headers)).workspaces).toEqual([]);
      const accepted = await t.app.inject({
        method: 'POST',
        url: '/v1/invitations/accept',
        headers: session.headers,
        payload: { token },
      });
      expect(accepted.statusCode, accepted.body).toBe(200);
      expect(json(accepted).workspace).toMatchObject({ id: workspaceId, role: 'admin' });
    });
  });

  describe('open', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(dialect, { TOOKEN_SIGNUP: 'open' });
    });
    afterAll(() => t.close());

    it('lets anyone sign up', async () => {
      for (let i = 0; i < 3; i++) {
        const res = await signupRaw(t.app, { email: uniqueEmail('open'), password: PASSWORD });
        expect(res.statusCode).toBe(201);
      }
    });

    it('lets an invited address sign up without the invitation’s token, but refuses a token that is not its own', async () => {
      const { session: owner, ws } = await ownerWorkspace(t.app);
      const invited = uniqueEmail('invited');
      const inv = await t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${ws.slug}/invitations`,
        headers: owner.headers,
        payload: { email: invited, role: 'viewer' },
      });
      expect(inv.statusCode).toBe(201);
      const token = new URL(json(inv).accept_url).searchParams.get('token') ?? '';
      // A client that names an invitation means to sign up through it: a wrong one is refused.
      const wrong = await signupRaw(t.app, {
        email: uniqueEmail('other'),
        password: PASSWORD,
        invitation_token: token,
      });
      expect(wrong.statusCode).toBe(403);
      expect((await signupRaw(t.app, { email: invited, password: PASSWORD })).statusCode).toBe(201);
    });
  });
});
