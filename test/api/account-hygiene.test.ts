import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobRunner } from '../../src/background.js';
import type { Database } from '../../src/db/schema.js';
import { createTestApp, dialects, json, ownerWorkspace, PASSWORD, type TestApp } from '../helpers.js';
import { type SmtpPeer, startSmtpPeer } from '../smtp-peer.js';

/** Every table of the schema: a new one must be added here to be scanned. */
const TABLES: readonly (keyof Database)[] = [
  'users',
  'sessions',
  'two_factor',
  'recovery_codes',
  'login_challenges',
  'password_resets',
  'login_failures',
  'workspaces',
  'members',
  'invitations',
  'api_keys',
  'audit_log',
  'audit_heads',
  'idempotency_keys',
  'rate_limits',
  'tokens',
  'token_secrets',
  'jobs',
  'outbox_events',
  'emails',
  'webhooks',
  'webhook_deliveries',
];

/*
 * The account secrets — TOTP secrets, recovery codes, sign-in challenges, password-reset links and
 * passwords — are shown once (or emailed) and never kept readable: this walks every flow that
 * handles them, then scans every row of every table, the server's log and the job runner's log.
 */
describe.each(dialects())('%s: account secrets at rest and in logs', (dialect) => {
  let t: TestApp;
  let smtp: SmtpPeer;
  const jobLog: string[] = [];
  beforeAll(async () => {
    smtp = await startSmtpPeer();
    t = await createTestApp(dialect, {
      TOOKEN_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      TOOKEN_PUBLIC_URL: 'https://tooken.example.com',
    });
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });

  it('never stores or logs a TOTP secret, a recovery code, a challenge, a reset link or a password', async () => {
    const keep = (...args: unknown[]) => jobLog.push(JSON.stringify(args));
    const runner = createJobRunner(t.services, { info: keep, warn: keep, error: keep, debug: keep });
    const post = (url: string, payload: object | undefined, headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload }) });
    const { session } = await ownerWorkspace(t.app);
    const email = session.user.email as string;
    const secrets: string[] = [PASSWORD];

    // Two-factor: the secret, the recovery codes, a challenge, a code.
    const { secret } = json(await post('/v1/me/two-factor', undefined, session.headers));
    secrets.push(secret);
    const code = (offset = 0) =>
      new TOTP({ secret: Secret.fromBase32(secret) }).generate({
        timestamp: t.clock.now() + offset * 30_000,
      });
    const confirmed = await post('/v1/me/two-factor/confirm', { code: code() }, session.headers);
    const recovery = json(confirmed).recovery_codes as string[];
    expect(recovery).toHaveLength(10);
    secrets.push(...recovery, ...recovery.map((c) => c.replace('-', '')));
    t.clock.advance(30_000);
    const { challenge } = json(await post('/v1/auth/login', { email, password: PASSWORD }));
    secrets.push(challenge);
    expect((await post('/v1/auth/login/two-factor', { challenge, code: code(5) })).statusCode).toBe(401);
    expect(
      (await post('/v1/auth/login/two-factor', { challenge, recovery_code: recovery[0] })).statusCode,
    ).toBe(200);

    // A password change and a reset through the emailed link.
    const changed = 'the second password';
    secrets.push(changed);
    const change = await post(
      '/v1/me/password',
      { current_password: PASSWORD, new_password: changed },
      session.headers,
    );
    expect(change.statusCode).toBe(204);
    expect((await post('/v1/auth/password-reset', { email })).statusCode).toBe(202);
    await runner.runDue();
    const link = /https:\/\/tooken\.example\.com\/reset-password\?token=([A-Za-z0-9_-]+)/.exec(
      smtp.messages[0]?.text ?? '',
    );
    const token = link?.[1] ?? '';
    expect(token.length).toBeGreaterThanOrEqual(40);
    secrets.push(token);
    const third = 'the third password';
    secrets.push(third);
    expect((await post('/v1/auth/password-reset/confirm', { token, new_password: third })).statusCode).toBe(
      204,
    );
    // A second reset left pending, its email sent: nothing readable is kept for it either.
    expect((await post('/v1/auth/password-reset', { email })).statusCode).toBe(202);
    await runner.runDue();
    const pending = /token=([A-Za-z0-9_-]+)/.exec(smtp.messages[1]?.text ?? '')?.[1] ?? '';
    expect(pending.length).toBeGreaterThanOrEqual(40);
    secrets.push(pending);

    for (const table of TABLES) {
      const dump = JSON.stringify(await t.services.db.selectFrom(table).selectAll().execute());
      for (const s of secrets) {
        expect(dump.includes(s), `${table} holds a secret`).toBe(false);
        expect(dump.includes(encodeURIComponent(s)), `${table} holds a secret`).toBe(false);
      }
    }
    const logs = t.logs.join('') + jobLog.join('\n');
    for (const s of secrets) expect(logs.includes(s), 'a log line holds a secret').toBe(false);
  });
});
