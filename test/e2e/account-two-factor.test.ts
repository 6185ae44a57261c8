import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkScreen, type E2E, ownerWithWorkspace, startE2E } from './harness.js';
import { nextStep, signInFirstStep, totp, wrongCode } from './totp.js';

const PASSWORD = 'correct horse battery';

describe('dashboard: two-factor enrolment and the two-step sign-in', () => {
  let e2e: E2E;
  beforeAll(async () => {
    e2e = await startE2E();
  }, 180_000);
  afterAll(async () => {
    await e2e?.close();
  });

  it('enrols with a code of the shown secret, shows the recovery codes once, then signs in with a code and a recovery code', async () => {
    const { context, page, problems } = await e2e.newPage();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: e2e.baseUrl });
    const email = 'tess@example.com';
    const { api, slug } = await ownerWithWorkspace(page, email, 'Acme');

    await page.goto(`/w/${slug}/tokens`);
    await page.getByRole('navigation', { name: 'Workspace' }).getByRole('link', { name: 'Account' }).click();
    await page.waitForURL(`**/w/${slug}/account`);
    await page.getByRole('heading', { name: 'Account', exact: true }).waitFor();
    await page.getByRole('row', { name: /This session/ }).waitFor();
    await checkScreen(page, 'account');

    // Enable: the QR code (a data: image) and the secret as text.
    await page.getByRole('button', { name: 'Enable two-factor authentication' }).click();
    const qr = page.getByRole('img', { name: 'QR code of the two-factor secret' });
    await qr.waitFor();
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    const secret = await page.getByLabel('Secret').inputValue();
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    await checkScreen(page, 'account-two-factor-enrol');

    // A wrong code is refused next to the field; the right one turns it on.
    await page.getByLabel('Authentication code').fill(wrongCode(secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.locator('.field-error').first().waitFor();
    await page.getByLabel('Authentication code').fill(totp(secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    const list = page.getByRole('list', { name: 'Recovery codes' });
    await list.waitFor();
    const codes = await list.getByRole('listitem').allTextContents();
    expect(codes).toHaveLength(10);
    for (const code of codes) expect(code).toMatch(/^[a-z0-9]{5}-[a-z0-9]{5}$/);
    await checkScreen(page, 'account-recovery-codes');
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(codes.join('\n'));

    // Shown once: gone after Done, and not on the page when it is opened again.
    await page.getByRole('button', { name: 'I have saved my recovery codes' }).click();
    await page.getByRole('button', { name: 'Disable two-factor authentication' }).waitFor();
    await checkScreen(page, 'account-two-factor-on');
    expect(await page.content()).not.toContain(codes[0]);
    await page.reload();
    await page.getByRole('button', { name: 'Disable two-factor authentication' }).waitFor();
    expect(await page.content()).not.toContain(codes[0]);
    expect(
      ((await api.call('GET', '/v1/me')).body.user as { two_factor_enabled: boolean }).two_factor_enabled,
    ).toBe(true);

    // Sign out, then sign in: the password, then the code (and back to the page of ?next=).
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL('**/sign-in');
    await page.goto(`/w/${slug}/settings/general`);
    await page.waitForURL(/\/sign-in\?next=/);
    await signInFirstStep(page, email, PASSWORD);
    await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
    await checkScreen(page, 'sign-in-two-factor');
    await page.getByLabel('Authentication code').fill(wrongCode(secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: 'Invalid two-factor code' }).waitFor();
    await page.getByLabel('Authentication code').fill(totp(secret, nextStep()));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`**/w/${slug}/settings/general`);

    // Once more with a recovery code instead.
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL('**/sign-in');
    await signInFirstStep(page, email, PASSWORD);
    await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
    await page.getByLabel('Recovery code').fill(codes[3] ?? '');
    await checkScreen(page, 'sign-in-recovery-code');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`**/w/${slug}/tokens`);
    // That recovery code is spent.
    const again = await e2e.t.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email, password: PASSWORD },
    });
    const challenge = (again.json() as { challenge: string }).challenge;
    const spent = await e2e.t.app.inject({
      method: 'POST',
      url: '/v1/auth/login/two-factor',
      payload: { challenge, recovery_code: codes[3] },
    });
    expect(spent.statusCode).toBe(401);
    expect(problems).toEqual([]);
  }, 180_000);
});
