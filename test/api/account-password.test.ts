import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createJobRunner } from '../../src/background.js';
import { CLI, ensureBuilt } from '../cli/build.js';
import {
  auditRows,
  bearer,
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
import { type SmtpPeer, startSmtpPeer } from '../smtp-peer.js';

const PUBLIC_URL = 'https://tooken.example.com';
const LINK = /https:\/\/tooken\.example\.com\/reset-password\?token=([A-Za-z0-9_-]+)/;
const NEW_PASSWORD = 'a brand new passphrase';
const silent = { info() {}, warn() {}, error() {}, debug() {} };

function helpers(t: () => TestApp) {
  const post = (url: string, payload: object, headers: Record<string, string> = {}, remoteAddress?: string) =>
    t().app.inject({ method: 'POST', url, payload, headers, ...(remoteAddress ? { remoteAddress } : {}) });
  const login = (email: string, password: string) => post('/v1/auth/login', { email, password });
  const me = (session: Session) =>
    t().app.inject({ method: 'GET', url: '/v1/me', headers: { cookie: session.cookie } });
  const requestReset = (email: string, remoteAddress?: string) =>
    post('/v1/auth/password-reset', { email }, {}, remoteAddress);
  const confirmReset = (token: string, newPassword = NEW_PASSWORD) =>
    post('/v1/auth/password-reset/confirm', { token, new_password: newPassword });
  const runJobs = () => createJobRunner(t().services, silent).runDue();
  return { post, login, me, requestReset, confirmReset, runJobs };
}

describe.each(dialects())('%s: changing the password', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());
  const { post, login, me } = helpers(() => t);
  const change = (session: Session, current: string, next: string) =>
    post('/v1/me/password', { current_password: current, new_password: next }, session.headers);

  it('answers 204, signs in with the new password only, and ends every other session', async () => {
    const email = uniqueEmail('change');
    const first = await signup(t.app, email);
    const second = sessionFrom(await login(email, PASSWORD));
    const third = sessionFrom(await login(email, PASSWORD));
    const res = await change(second, PASSWORD, NEW_PASSWORD);
    expect(res.statusCode, res.body).toBe(204);
    expect((await me(second)).statusCode).toBe(200);
    expectError(await me(first), 401, 'unauthorized');
    expectError(await me(third), 401, 'unauthorized');
    expectError(await login(email, PASSWORD), 401, 'unauthorized');
    expect((await login(email, NEW_PASSWORD)).statusCode).toBe(200);
  });

  it('refuses a wrong current password with 400, counted toward the sign-in throttle', async () => {
    const email = uniqueEmail('wrong');
    const session = await signup(t.app, email);
    for (let i = 0; i < 5; i++) {
      expectError(
        await change(session, 'not the password', NEW_PASSWORD),
        400,
        'bad_request',
        'current_password',
      );
    }
    const throttled = expectError(await change(session, PASSWORD, NEW_PASSWORD), 429, 'rate_limited');
    expect(throttled.message).toMatch(/try again later/);
    const signIn = await login(email, PASSWORD);
    expectError(signIn, 429, 'rate_limited');
    expect(Number(signIn.headers['retry-after'])).toBeGreaterThan(0);
    t.clock.advance(15 * 60 * 1000 + 1000);
    expect((await change(session, PASSWORD, NEW_PASSWORD)).statusCode).toBe(204);
  });

  it('refuses a new password shorter than 10 characters, and bearer credentials', async () => {
    const { session, key } = await ownerWorkspace(t.app, { key: 'team' });
    expectError(await change(session, PASSWORD, 'short'), 400, 'bad_request', 'new_password');
    const byKey = await post(
      '/v1/me/password',
      { current_password: PASSWORD, new_password: NEW_PASSWORD },
      bearer(key.key),
    );
    expectError(byKey, 403, 'forbidden');
    expectError(
      await post(
        '/v1/me/password',
        { current_password: PASSWORD, new_password: NEW_PASSWORD },
        { cookie: session.cookie },
      ),
      403,
      'forbidden',
    );
  });

  it('records member.password_changed in every workspace of the user, with no secret in it', async () => {
    const { session, ws } = await ownerWorkspace(t.app);
    const other = await createWorkspace(t.app, session, 'Second home');
    const res = await post(
      '/v1/me/password',
      { current_password: PASSWORD, new_password: NEW_PASSWORD },
      { ...session.headers, 'user-agent': 'password-test/1.0' },
    );
    expect(res.statusCode).toBe(204);
    for (const workspace of [ws, other]) {
      const rows = await auditRows(t.services, workspace.id, 'member.password_changed');
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        actor_type: 'user',
        actor_id: session.user.id,
        target_type: 'member',
        target_id: session.user.id,
        changes: null,
        user_agent: 'password-test/1.0',
        request_id: res.headers['x-request-id'],
      });
      const dump = JSON.stringify(rows);
      expect(dump).not.toContain(PASSWORD);
      expect(dump).not.toContain(NEW_PASSWORD);
    }
    const audit = await t.app.inject({
      method: 'GET',
      url: `/v1/workspaces/${ws.slug}/audit-logs?event=member.password_changed`,
      headers: { cookie: session.cookie },
    });
    expect(json(audit).data).toHaveLength(1);
  });
});

describe.each(dialects())('%s: password reset by email', (dialect) => {
  let t: TestApp;
  let smtp: SmtpPeer;
  beforeAll(async () => {
    smtp = await startSmtpPeer();
    t = await createTestApp(dialect, {
      TOOKEN_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      TOOKEN_PUBLIC_URL: PUBLIC_URL,
    });
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });
  beforeEach(() => {
    smtp.messages.length = 0;
  });
  const { login, me, requestReset, confirmReset, runJobs } = helpers(() => t);

  /** Asks for a reset of `email` and returns the token of the link the SMTP peer received. */
  async function resetToken(email: string): Promise<string> {
    expect((await requestReset(email)).statusCode).toBe(202);
    expect(smtp.messages).toHaveLength(0); // sent after commit, by the job runner
    await runJobs();
    const mail = smtp.messages.find((m) => m.to.includes(email));
    expect(mail, 'the reset email reached the SMTP peer').toBeDefined();
    const token = LINK.exec(mail?.text ?? '')?.[1];
    expect(token).toBeDefined();
    smtp.messages.length = 0;
    return token ?? '';
  }

  it('answers 202 for a known and an unknown address alike, and emails only the known one', async () => {
    const known = uniqueEmail('known');
    await signup(t.app, known);
    const unknown = uniqueEmail('nobody');
    const a = await requestReset(known.toUpperCase());
    const b = await requestReset(unknown);
    expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
    expect(a.body).toBe(b.body);
    await runJobs();
    expect(smtp.messages.map((m) => m.to)).toEqual([[known]]);
    expect(smtp.messages[0]?.text).toMatch(LINK);
    expect(smtp.messages[0]?.text).toContain('Reset your Tooken password');
  });

  it('sets the new password through the link once, and ends every session of the user', async () => {
    const { session } = await ownerWorkspace(t.app);
    const email = session.user.email as string;
    const second = sessionFrom(await login(email, PASSWORD));
    const token = await resetToken(email);
    expect((await confirmReset(token)).statusCode).toBe(204);
    expectError(await me(session), 401, 'unauthorized');
    expectError(await me(second), 401, 'unauthorized');
    expectError(await login(email, PASSWORD), 401, 'unauthorized');
    expect((await login(email, NEW_PASSWORD)).statusCode).toBe(200);
    const again = expectError(
      await confirmReset(token, 'yet another passphrase'),
      400,
      'bad_request',
      'token',
    );
    expect(again.message).toMatch(/already used/);
    expect((await login(email, NEW_PASSWORD)).statusCode).toBe(200);
  });

  it('refuses a link after 30 minutes, an unknown token, and a link replaced by a newer one', async () => {
    const email = uniqueEmail('late');
    await signup(t.app, email);
    const older = await resetToken(email);
    const newer = await resetToken(email);
    expectError(await confirmReset(older), 400, 'bad_request', 'token');
    t.clock.advance(30 * 60 * 1000 + 1);
    expectError(await confirmReset(newer), 400, 'bad_request', 'token');
    expectError(await confirmReset('x'.repeat(43)), 400, 'bad_request', 'token');
    expectError(await confirmReset('not a token!'), 400, 'bad_request', 'token');
    expect((await login(email, PASSWORD)).statusCode).toBe(200);
  });

  it('throttles requests per address (5) and per IP address (20) with 429 and Retry-After', async () => {
    const email = uniqueEmail('flood');
    for (let i = 0; i < 5; i++) expect((await requestReset(email, '198.51.100.1')).statusCode).toBe(202);
    const perAddress = await requestReset(email, '198.51.100.2');
    expectError(perAddress, 429, 'rate_limited');
    expect(Number(perAddress.headers['retry-after'])).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) {
      expect((await requestReset(uniqueEmail('spray'), '198.51.100.9')).statusCode).toBe(202);
    }
    const perIp = await requestReset(uniqueEmail('spray'), '198.51.100.9');
    expectError(perIp, 429, 'rate_limited');
    expect(Number(perIp.headers['retry-after'])).toBeGreaterThan(0);
    // Sign-in has a budget of its own.
    const person = uniqueEmail('person');
    await signup(t.app, person);
    expect(
      (
        await t.app.inject({
          method: 'POST',
          url: '/v1/auth/login',
          payload: { email: person, password: PASSWORD },
          remoteAddress: '198.51.100.9',
        })
      ).statusCode,
    ).toBe(200);
  });
});

describe.each(dialects())('%s: password reset without SMTP', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_PUBLIC_URL: PUBLIC_URL });
  });
  afterAll(() => t.close());
  const { requestReset, confirmReset, login } = helpers(() => t);

  it('still answers 202, sends nothing and keeps nothing readable; the operator command prints a working link', async () => {
    const email = uniqueEmail('nosmtp');
    await signup(t.app, email);
    expect((await requestReset(email)).statusCode).toBe(202);
    await createJobRunner(t.services, silent).runDue();
    const emails = await t.services.db
      .selectFrom('emails')
      .selectAll()
      .where('to_address', '=', email)
      .execute();
    expect(emails.map((e) => e.status)).toEqual(['not_sent']);
    const resets = await t.services.db.selectFrom('password_resets').selectAll().execute();
    expect(resets.map((r) => r.secret_sealed)).toEqual([null]);

    ensureBuilt();
    const ran = await promisify(execFile)(
      process.execPath,
      [CLI, 'users', 'reset-password', email.toUpperCase()],
      {
        env: {
          PATH: process.env.PATH ?? '',
          TOOKEN_DATABASE_URL: t.services.config.databaseUrl,
          TOOKEN_PUBLIC_URL: PUBLIC_URL,
        },
      },
    );
    const token = LINK.exec(ran.stdout)?.[1];
    expect(token, ran.stdout).toBeDefined();
    expect((await confirmReset(token ?? '')).statusCode).toBe(204);
    expect((await login(email, NEW_PASSWORD)).statusCode).toBe(200);
    const stored = JSON.stringify(await t.services.db.selectFrom('password_resets').selectAll().execute());
    expect(stored).not.toContain(token);
  }, 240_000);

  it('the operator command exits 1 for an address without an account', async () => {
    ensureBuilt();
    const ran = await promisify(execFile)(
      process.execPath,
      [CLI, 'users', 'reset-password', 'nobody@example.com'],
      {
        env: { PATH: process.env.PATH ?? '', TOOKEN_DATABASE_URL: t.services.config.databaseUrl },
      },
    ).catch((error: { code: number; stderr: string }) => error);
    expect('code' in ran ? ran.code : 0).toBe(1);
    expect(ran.stderr).toContain('no account has the email nobody@example.com');
  }, 240_000);
});
