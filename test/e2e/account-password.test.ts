import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpPeer, startSmtpPeer } from '../smtp-peer.js';
import { checkScreen, type E2E, ownerWithWorkspace, startE2E } from './harness.js';
import { fieldErrorOf } from './roles.js';
import { runJobs, signInFirstStep } from './totp.js';

const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a brand new passphrase';

describe('dashboard: password change, sessions and reset by email', () => {
  let e2e: E2E;
  let smtp: SmtpPeer;
  beforeAll(async () => {
    smtp = await startSmtpPeer();
    e2e = await startE2E({
      TOOKEN_SIGNUP: 'open',
      TOOKEN_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      TOOKEN_EMAIL_FROM: 'Tooken <tooken@example.com>',
    });
  }, 180_000);
  afterAll(async () => {
    await e2e?.close();
    await smtp?.close();
  });

  /** A second browser signed in as `email`: its own cookie jar, so its own session. */
  async function otherDevice(email: string, password: string) {
    const { context } = await e2e.newPage();
    const login = await context.request.post('/v1/auth/login', { data: { email, password } });
    expect(login.status()).toBe(200);
    return { signedIn: async () => (await context.request.get('/v1/me')).status() === 200 };
  }

  it('lists the sessions, ends one, and ends every other one', async () => {
    const { page, problems } = await e2e.newPage();
    const email = 'sam@example.com';
    const { slug } = await ownerWithWorkspace(page, email, 'Sessions Co');
    const laptop = await otherDevice(email, PASSWORD);
    const phone = await otherDevice(email, PASSWORD);

    await page.goto(`/w/${slug}/account`);
    const table = page.getByRole('table');
    await table.getByRole('row', { name: /This session/ }).waitFor();
    expect(await table.getByRole('row').count()).toBe(4); // the header and three sessions
    expect(await table.getByText('This session').count()).toBe(1);
    expect(await table.getByRole('cell', { name: '127.0.0.1' }).count()).toBe(3);
    await checkScreen(page, 'account-sessions');

    // Sign out one other session: one of the two devices is signed out, the other still in.
    await table
      .getByRole('button', { name: /^Sign out the session/ })
      .first()
      .click();
    await expect.poll(async () => table.getByRole('row').count()).toBe(3);
    expect([await laptop.signedIn(), await phone.signedIn()].filter(Boolean)).toHaveLength(1);

    await page.getByRole('button', { name: 'Sign out everywhere else' }).click();
    await page.getByText('No other session is signed in.').waitFor();
    expect(await table.getByRole('row').count()).toBe(2);
    expect(await laptop.signedIn()).toBe(false);
    expect(await phone.signedIn()).toBe(false);
    expect(await page.getByRole('button', { name: 'Sign out everywhere else' }).isDisabled()).toBe(true);
    expect(problems).toEqual([]);
  }, 120_000);

  it('changes the password: a wrong current one is refused next to its field, other sessions end', async () => {
    const { page, problems } = await e2e.newPage();
    const email = 'cass@example.com';
    const { slug } = await ownerWithWorkspace(page, email, 'Change Co');
    const laptop = await otherDevice(email, PASSWORD);

    await page.goto(`/w/${slug}/account`);
    const form = page.getByRole('form', { name: 'Change password' });
    await form.getByLabel('Current password').fill('not the password');
    await form.getByLabel('New password').fill(NEW_PASSWORD);
    await form.getByRole('button', { name: 'Change password' }).click();
    expect(await fieldErrorOf(page, 'Current password')).toMatch(/current password/i);
    await checkScreen(page, 'account-change-password-refused');

    await form.getByLabel('Current password').fill(PASSWORD);
    await form.getByLabel('New password').fill('short');
    await form.getByRole('button', { name: 'Change password' }).click();
    expect(await fieldErrorOf(page, 'New password')).toMatch(/10/);

    await form.getByLabel('New password').fill(NEW_PASSWORD);
    await form.getByRole('button', { name: 'Change password' }).click();
    await form
      .getByRole('status')
      .filter({ hasText: 'Every other session of your account has been signed out' })
      .waitFor();
    await checkScreen(page, 'account-password-changed');
    expect(await laptop.signedIn()).toBe(false);
    // This session stays; the old password no longer signs in, the new one does.
    await page.getByRole('row', { name: /This session/ }).waitFor();
    expect(await page.getByRole('table').getByRole('row').count()).toBe(2);
    const old = await e2e.t.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email, password: PASSWORD },
    });
    expect(old.statusCode).toBe(401);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL('**/sign-in');
    await signInFirstStep(page, email, PASSWORD);
    await page.getByText('Invalid email or password').waitFor();
    await signInFirstStep(page, email, NEW_PASSWORD);
    await page.waitForURL(`**/w/${slug}/tokens`);
    expect(problems).toEqual([]);
  }, 120_000);

  it('resets a forgotten password from the link emailed to a real SMTP peer', async () => {
    const { page, problems } = await e2e.newPage();
    const email = 'rory@example.com';
    const { slug } = await ownerWithWorkspace(page, email, 'Reset Co');
    const laptop = await otherDevice(email, PASSWORD);
    await page.context().clearCookies();

    await page.goto('/sign-in');
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.waitForURL('**/forgot-password');
    await checkScreen(page, 'forgot-password');
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByText(`If an account exists for ${email}, we sent a link`).waitFor();
    await checkScreen(page, 'forgot-password-sent');

    // The email goes out after commit, from the background email job.
    await expect
      .poll(async () => {
        await runJobs(e2e);
        return smtp.messages.some((m) => m.to.includes(email));
      })
      .toBe(true);
    const mail = smtp.messages.find((m) => m.to.includes(email));
    const link = /\/reset-password\?token=([A-Za-z0-9_-]+)/.exec(mail?.text ?? '');
    expect(link, mail?.text).not.toBeNull();

    // An address without an account gets the same answer (and no email).
    await page.goto('/forgot-password');
    await page.getByLabel('Email').fill('nobody@example.com');
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByText('If an account exists for nobody@example.com, we sent a link').waitFor();

    await page.goto(link?.[0] ?? '');
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await checkScreen(page, 'reset-password');
    await page.getByLabel('New password').fill('short');
    await page.getByRole('button', { name: 'Reset password' }).click();
    expect(await fieldErrorOf(page, 'New password')).toMatch(/10/);
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Reset password' }).click();
    await page.getByText('Your password is changed').waitFor();
    await checkScreen(page, 'reset-password-done');
    expect(await laptop.signedIn()).toBe(false);

    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.waitForURL('**/sign-in');
    await signInFirstStep(page, email, NEW_PASSWORD);
    await page.waitForURL(`**/w/${slug}/tokens`);

    // The link worked once.
    await page.goto(link?.[0] ?? '');
    await page.getByLabel('New password').fill('yet another passphrase');
    await page.getByRole('button', { name: 'Reset password' }).click();
    await page.getByRole('alert').first().waitFor();
    expect(await page.getByRole('alert').first().textContent()).toMatch(/link/i);
    // A link without a token says it is incomplete.
    await page.goto('/reset-password');
    await page.getByText('This password-reset link is incomplete').waitFor();
    expect(problems).toEqual([]);
  }, 120_000);
});
