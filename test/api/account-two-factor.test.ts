import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  auditRows,
  bearer,
  createApiKey,
  createTestApp,
  createWorkspace,
  dialects,
  expectError,
  json,
  ownerWorkspace,
  PASSWORD,
  type Session,
  sessionFrom,
  signup,
  type TestApp,
  uniqueEmail,
} from '../helpers.js';

const STEP = 30_000;

describe.each(dialects())('%s: two-factor', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  const post = (url: string, payload: object | undefined, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload }) });
  const me = async (session: Session) =>
    json(await t.app.inject({ method: 'GET', url: '/v1/me', headers: { cookie: session.cookie } }));
  /** The authenticator app: the code of `secret` at the server's current time (or `offset` steps away). */
  const codeOf = (secret: string, offset = 0) =>
    new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: t.clock.now() + offset * STEP });
  const login = (email: string, password = PASSWORD) => post('/v1/auth/login', { email, password });
  const second = (payload: object) => post('/v1/auth/login/two-factor', payload);
  const challengeFor = async (email: string): Promise<string> => {
    const res = await login(email);
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res).two_factor_required).toBe(true);
    return json(res).challenge;
  };

  /** Signs up (or takes) a person and turns two-factor on; the clock moves on a step after. */
  async function enrolled(session?: Session) {
    const person = session ?? (await signup(t.app));
    const begun = await post('/v1/me/two-factor', undefined, person.headers);
    expect(begun.statusCode, begun.body).toBe(200);
    const { secret } = json(begun);
    const confirmed = await post('/v1/me/two-factor/confirm', { code: codeOf(secret) }, person.headers);
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    t.clock.advance(STEP);
    return {
      person,
      email: person.user.email as string,
      secret,
      recoveryCodes: json(confirmed).recovery_codes as string[],
    };
  }

  describe('enrolment', () => {
    it('hands out a secret and an otpauth URI, pending until a code of it confirms; then ten recovery codes once', async () => {
      const session = await signup(t.app);
      const begun = await post('/v1/me/two-factor', undefined, session.headers);
      expect(begun.statusCode).toBe(200);
      const { secret, otpauth_uri: uri } = json(begun);
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(uri).toContain(`secret=${secret}`);
      expect(uri).toMatch(/^otpauth:\/\/totp\/Tooken:/);
      expect((await me(session)).user.two_factor_enabled).toBe(false);
      // Pending: signing in still takes the password alone.
      expect(json(await login(session.user.email)).csrf_token).toEqual(expect.any(String));

      expectError(
        await post('/v1/me/two-factor/confirm', { code: codeOf(secret, 3) }, session.headers),
        400,
        'bad_request',
        'code',
      );
      expectError(
        await post('/v1/me/two-factor/confirm', { code: '12345' }, session.headers),
        400,
        'bad_request',
        'code',
      );
      const confirmed = await post('/v1/me/two-factor/confirm', { code: codeOf(secret) }, session.headers);
      expect(confirmed.statusCode, confirmed.body).toBe(200);
      const codes = json(confirmed).recovery_codes as string[];
      expect(codes).toHaveLength(10);
      expect(new Set(codes).size).toBe(10);
      expect((await me(session)).user.two_factor_enabled).toBe(true);
      expectError(await post('/v1/me/two-factor', undefined, session.headers), 409, 'conflict');
      expectError(
        await post('/v1/me/two-factor/confirm', { code: codeOf(secret) }, session.headers),
        409,
        'conflict',
      );
    });

    it('a new enrolment replaces a pending secret, so the old secret no longer confirms', async () => {
      const session = await signup(t.app);
      const first = json(await post('/v1/me/two-factor', undefined, session.headers)).secret;
      const next = json(await post('/v1/me/two-factor', undefined, session.headers)).secret;
      expect(next).not.toBe(first);
      expectError(
        await post('/v1/me/two-factor/confirm', { code: codeOf(first) }, session.headers),
        400,
        'bad_request',
      );
      expect(
        (await post('/v1/me/two-factor/confirm', { code: codeOf(next) }, session.headers)).statusCode,
      ).toBe(200);
    });
  });

  describe('signing in', () => {
    it('answers a challenge and no session after the password; a code completes the sign-in', async () => {
      const { email, secret } = await enrolled();
      const first = await login(email);
      expect(json(first)).toEqual({ two_factor_required: true, challenge: expect.any(String) });
      expect(first.headers['set-cookie']).toBeUndefined();
      const done = await second({ challenge: json(first).challenge, code: codeOf(secret) });
      expect(done.statusCode, done.body).toBe(200);
      expect(Object.keys(json(done)).sort()).toEqual(['csrf_token', 'user']);
      const session = sessionFrom(done);
      expect((await me(session)).user).toMatchObject({ email, two_factor_enabled: true });
      expectError(await login(email, 'wrong password!'), 401, 'unauthorized');
    });

    it('accepts a code once: the same code, or one of an earlier step, is refused afterwards', async () => {
      const { email, secret } = await enrolled();
      const code = codeOf(secret);
      expect((await second({ challenge: await challengeFor(email), code })).statusCode).toBe(200);
      const replay = await second({ challenge: await challengeFor(email), code });
      expect(expectError(replay, 401, 'unauthorized').message).toBe('Invalid two-factor code');
      // Still within the ±1 step window, but older than the step already used.
      expectError(
        await second({ challenge: await challengeFor(email), code: codeOf(secret, -1) }),
        401,
        'unauthorized',
      );
      t.clock.advance(STEP);
      expect((await second({ challenge: await challengeFor(email), code: codeOf(secret) })).statusCode).toBe(
        200,
      );
    });

    it('accepts each recovery code once, however it is typed', async () => {
      const { email, recoveryCodes } = await enrolled();
      const [code] = recoveryCodes;
      const typed = (code ?? '').toUpperCase().replace('-', ' ');
      expect((await second({ challenge: await challengeFor(email), recovery_code: typed })).statusCode).toBe(
        200,
      );
      expectError(
        await second({ challenge: await challengeFor(email), recovery_code: code ?? '' }),
        401,
        'unauthorized',
      );
      expect(
        (await second({ challenge: await challengeFor(email), recovery_code: recoveryCodes[1] ?? '' }))
          .statusCode,
      ).toBe(200);
    });

    it('a challenge works once and for five minutes', async () => {
      const { email, secret } = await enrolled();
      const challenge = await challengeFor(email);
      expect((await second({ challenge, code: codeOf(secret) })).statusCode).toBe(200);
      t.clock.advance(STEP);
      expectError(await second({ challenge, code: codeOf(secret) }), 401, 'unauthorized');
      const late = await challengeFor(email);
      t.clock.advance(5 * 60 * 1000 + 1);
      expectError(await second({ challenge: late, code: codeOf(secret) }), 401, 'unauthorized');
      expectError(await second({ challenge: 'made-up', code: codeOf(secret) }), 401, 'unauthorized');
    });

    it('wants exactly one of code and recovery_code', async () => {
      const { email, secret, recoveryCodes } = await enrolled();
      const challenge = await challengeFor(email);
      expectError(await second({ challenge }), 400, 'bad_request');
      expectError(
        await second({ challenge, code: codeOf(secret), recovery_code: recoveryCodes[0] }),
        400,
        'bad_request',
      );
      expectError(await second({ challenge, code: 'abcdef' }), 400, 'bad_request', 'code');
    });

    it('throttles wrong codes like failed sign-ins: signing in again does not reset the count', async () => {
      const { email, secret } = await enrolled();
      const wrong = (challenge: string) => second({ challenge, code: codeOf(secret, 5) });
      let challenge = await challengeFor(email);
      for (let i = 0; i < 3; i++) expectError(await wrong(challenge), 401, 'unauthorized');
      challenge = await challengeFor(email);
      for (let i = 0; i < 2; i++) expectError(await wrong(challenge), 401, 'unauthorized');
      const throttled = expectError(await second({ challenge, code: codeOf(secret) }), 429, 'rate_limited');
      expect(throttled.message).toMatch(/try again later/);
      const retry = await login(email);
      expectError(retry, 429, 'rate_limited');
      expect(Number(retry.headers['retry-after'])).toBeGreaterThan(0);
      t.clock.advance(15 * 60 * 1000 + 1000);
      expect((await second({ challenge: await challengeFor(email), code: codeOf(secret) })).statusCode).toBe(
        200,
      );
    });

    it('a challenge dies after five wrong codes, even when the account’s throttle is lifted', async () => {
      const { email, secret } = await enrolled();
      const challenge = await challengeFor(email);
      for (let i = 0; i < 5; i++)
        expectError(await second({ challenge, code: codeOf(secret, 5) }), 401, 'unauthorized');
      // The account's budget is spent as well; clear it to see the challenge itself is gone.
      await t.services.db.deleteFrom('login_failures').execute();
      const gone = await second({ challenge, code: codeOf(secret) });
      expect(expectError(gone, 401, 'unauthorized').message).toMatch(/unknown, used or expired/);
      expect((await second({ challenge: await challengeFor(email), code: codeOf(secret) })).statusCode).toBe(
        200,
      );
    });
  });

  describe('turning it off', () => {
    it('needs the password and a code, and is audited in every workspace with the enrolment', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const other = await createWorkspace(t.app, session, 'Other place');
      const { secret } = await enrolled(session);
      const off = (payload: object) =>
        t.app.inject({ method: 'DELETE', url: '/v1/me/two-factor', headers: session.headers, payload });
      expectError(await off({ password: 'not the password', code: codeOf(secret) }), 400, 'bad_request');
      expectError(await off({ password: PASSWORD, code: codeOf(secret, 4) }), 400, 'bad_request');
      expect((await off({ password: PASSWORD, code: codeOf(secret) })).statusCode).toBe(204);
      expect((await me(session)).user.two_factor_enabled).toBe(false);
      expect(json(await login(session.user.email)).csrf_token).toEqual(expect.any(String));
      expectError(await off({ password: PASSWORD, code: codeOf(secret) }), 409, 'conflict');
      for (const workspace of [ws, other]) {
        const rows = await auditRows(t.services, workspace.id, 'member.two_factor_changed');
        expect(rows.map((row) => JSON.parse(row.changes ?? 'null'))).toEqual([
          { two_factor_enabled: { from: false, to: true } },
          { two_factor_enabled: { from: true, to: false } },
        ]);
        expect(rows[0]).toMatchObject({
          actor_id: session.user.id,
          target_type: 'member',
          target_id: session.user.id,
        });
        expect(JSON.stringify(rows)).not.toContain(secret);
      }
    });

    it('takes a recovery code in place of the app’s code', async () => {
      const { person, recoveryCodes } = await enrolled();
      const res = await t.app.inject({
        method: 'DELETE',
        url: '/v1/me/two-factor',
        headers: person.headers,
        payload: { password: PASSWORD, code: recoveryCodes[9] },
      });
      expect(res.statusCode).toBe(204);
    });
  });

  describe('a workspace that requires it', () => {
    it('only an Owner with two-factor on may require it', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const patch = (payload: object) =>
        t.app.inject({
          method: 'PATCH',
          url: `/v1/workspaces/${ws.slug}/settings`,
          headers: session.headers,
          payload,
        });
      expectError(await patch({ require_two_factor: true }), 409, 'conflict', 'require_two_factor');
      await enrolled(session);
      const res = await patch({ require_two_factor: true });
      expect(res.statusCode, res.body).toBe(200);
      expect(json(res).require_two_factor).toBe(true);
      const rows = await auditRows(t.services, ws.id, 'workspace.settings_changed');
      expect(JSON.parse(rows.at(-1)?.changes ?? 'null')).toEqual({
        require_two_factor: { from: false, to: true },
      });
    });

    it('answers 403 two_factor_required to a member’s session until they enrol, and says so in GET /v1/me', async () => {
      const { session: owner, ws } = await ownerWorkspace(t.app);
      await enrolled(owner);
      const member = await signup(t.app, uniqueEmail('member'));
      await addMember(t.services, ws.id, member.user.id, 'admin');
      const personalKey = await createApiKey(t.app, member, ws.slug, { name: 'mine', kind: 'personal' });
      const { ws: elsewhere } = await ownerWorkspace(t.app);
      await addMember(t.services, elsewhere.id, member.user.id, 'viewer');
      const patched = await t.app.inject({
        method: 'PATCH',
        url: `/v1/workspaces/${ws.slug}/settings`,
        headers: owner.headers,
        payload: { require_two_factor: true },
      });
      expect(patched.statusCode).toBe(200);

      const tokens = (slug: string, headers: Record<string, string>) =>
        t.app.inject({ method: 'GET', url: `/v1/workspaces/${slug}/tokens`, headers });
      const blocked = expectError(
        await tokens(ws.slug, { cookie: member.cookie }),
        403,
        'two_factor_required',
      );
      expect(blocked.message).toMatch(/requires two-factor/);
      expectError(await tokens('no-such-workspace', { cookie: member.cookie }), 404, 'not_found');
      expect((await tokens(elsewhere.slug, { cookie: member.cookie })).statusCode).toBe(200);
      expect((await tokens(ws.slug, { cookie: owner.cookie })).statusCode).toBe(200);
      // API keys are not asked for it (docs/accounts.md#requiring-two-factor).
      expect((await tokens(ws.slug, bearer(personalKey.key))).statusCode).toBe(200);
      const flags = (await me(member)).workspaces.map((w: { slug: string; two_factor_required: boolean }) => [
        w.slug,
        w.two_factor_required,
      ]);
      expect(flags).toEqual(
        expect.arrayContaining([
          [ws.slug, true],
          [elsewhere.slug, false],
        ]),
      );

      await enrolled(member);
      expect((await tokens(ws.slug, { cookie: member.cookie })).statusCode).toBe(200);
    });
  });
});
