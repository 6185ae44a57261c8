import { createClient, signIn, TookenError } from '@tooken/client';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, dialects, ownerWorkspace, PASSWORD, type TestApp } from '../helpers.js';

/** The account methods of @tooken/client against a real server over HTTP (what the dashboard will use). */
describe.each(dialects())('%s: @tooken/client account methods', (dialect) => {
  let t: TestApp;
  let baseUrl: string;
  beforeAll(async () => {
    t = await createTestApp(dialect);
    baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => t.close());

  it('changes the password, enrols two-factor, signs in with a code and manages sessions', async () => {
    const { session, ws } = await ownerWorkspace(t.app);
    const email = session.user.email as string;
    const signedIn = await signIn({ baseUrl, email, password: PASSWORD });
    const person = createClient({ baseUrl, session: signedIn, workspace: ws.slug });
    await person.me.changePassword(PASSWORD, 'another good password');

    const { secret, otpauth_uri: uri } = await person.me.twoFactor.begin();
    expect(uri).toContain(secret);
    const code = (offset = 0) =>
      new TOTP({ secret: Secret.fromBase32(secret) }).generate({
        timestamp: t.clock.now() + offset * 30_000,
      });
    const { recovery_codes: codes } = await person.me.twoFactor.confirm(code());
    expect(codes).toHaveLength(10);
    expect((await person.me()).user.two_factor_enabled).toBe(true);

    t.clock.advance(30_000);
    const refused = await signIn({ baseUrl, email, password: 'another good password' }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(TookenError);
    expect(refused).toMatchObject({ code: 'two_factor_required' });
    const again = await signIn({ baseUrl, email, password: 'another good password', twoFactorCode: code() });
    const laptop = createClient({ baseUrl, session: again, workspace: ws.slug });
    const first = await person.auth.login({ email, password: 'another good password' });
    expect('challenge' in first && first.two_factor_required).toBe(true);
    if ('challenge' in first) {
      const done = await person.auth.loginTwoFactor(first.challenge, { recovery_code: codes[0] ?? '' });
      expect(done.user.email).toBe(email);
    }

    const listed = await person.me.sessions.list();
    expect(listed.data.filter((s) => s.current)).toHaveLength(1);
    expect(listed.data.length).toBeGreaterThanOrEqual(3);
    const laptopId = (await laptop.me.sessions.list()).data.find((s) => s.current)?.id ?? '';
    await person.me.sessions.end(laptopId);
    expect(await laptop.me().catch((e: unknown) => (e as TookenError).status)).toBe(401);
    await person.me.sessions.endOthers();
    expect((await person.me.sessions.list()).data).toHaveLength(1);

    t.clock.advance(30_000);
    await person.me.twoFactor.disable('another good password', code());
    expect((await person.me()).user.two_factor_enabled).toBe(false);
    await person.auth.requestPasswordReset(email);
    const bad = await person.auth
      .confirmPasswordReset('x'.repeat(43), 'whatever password')
      .catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, code: 'bad_request' });
  });
});
