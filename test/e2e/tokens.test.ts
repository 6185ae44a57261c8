import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiAs, checkScreen, type E2E, ownerWithWorkspace, startE2E } from './harness.js';

describe('dashboard: the Tokens screen', () => {
  let e2e: E2E;
  beforeAll(async () => {
    e2e = await startE2E({ TOOKEN_SIGNUP: 'open' });
  }, 180_000);
  afterAll(async () => {
    await e2e?.close();
  });

  it('creates a token whose secret is shown once, finds it, rotates it with grace and revokes it', async () => {
    const { context, page, problems } = await e2e.newPage();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: e2e.baseUrl });
    const { api, slug } = await ownerWithWorkspace(page, 'owner@tokens.example', 'Acme');
    const verify = async (secret: string) =>
      (await api.call('POST', `/v1/workspaces/${slug}/tokens/verify`, { token: secret })).body.valid;

    await page.goto(`/w/${slug}/tokens`);
    await page.getByRole('heading', { name: 'No tokens yet' }).waitFor();
    expect(await page.getByRole('figure', { name: 'Verify a token from your code' }).textContent()).toContain(
      'createVerifier({ baseUrl: ',
    );
    await checkScreen(page, 'tokens-empty');

    // The dialog is keyboard-usable: focus stays inside, Escape closes it.
    await page.getByRole('button', { name: 'New Token' }).click();
    const dialog = page.getByRole('dialog', { name: 'New Token' });
    await dialog.waitFor();
    for (let i = 0; i < 20; i++) await page.keyboard.press('Tab');
    expect(
      await page.evaluate("document.querySelector('[role=dialog]').contains(document.activeElement)"),
    ).toBe(true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Create your first token' }).click();
    await dialog.waitFor();
    expect(await dialog.getByLabel('Days until it expires').inputValue()).toBe('90');
    await checkScreen(page, 'tokens-new');
    // The server's validation message is shown next to its field.
    await dialog.getByRole('button', { name: 'Create token' }).click();
    await dialog.locator('.field-error').first().waitFor();
    expect(await dialog.getByLabel('Name').getAttribute('aria-invalid')).toBe('true');
    await checkScreen(page, 'tokens-new-invalid');

    await dialog.getByLabel('Name').fill('orders-service');
    await dialog.getByRole('checkbox', { name: 'tokens:verify' }).check();
    await dialog.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByRole('dialog', { name: 'Token created' });
    await shown.waitFor();
    const secret = await shown.getByLabel('Secret').inputValue();
    expect(secret).toMatch(/^tkn_/);
    await shown.getByRole('button', { name: 'Copy' }).click();
    await shown.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(secret);
    await checkScreen(page, 'tokens-secret');
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });
    // Shown once: once closed, the secret is nowhere on the page.
    expect(await page.content()).not.toContain(secret);
    expect(await verify(secret)).toBe(true);

    // A name already in use: the server's own sentence, next to the Name field.
    await page.getByRole('button', { name: 'New Token' }).click();
    await dialog.getByLabel('Name').fill('orders-service');
    await dialog.getByRole('checkbox', { name: 'tokens:read' }).check();
    await dialog.getByRole('button', { name: 'Create token' }).click();
    await dialog.getByText('A token with this name already exists').waitFor();
    expect(await dialog.getByLabel('Name').getAttribute('aria-invalid')).toBe('true');

    // A second token that never expires.
    await dialog.getByLabel('Name').fill('billing-batch');
    await dialog.getByRole('radio', { name: 'Never' }).check();
    await dialog.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('dialog', { name: 'Token created' }).getByRole('button', { name: 'Done' }).click();
    const rows = page.locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.filter({ hasText: 'billing-batch' }).textContent()).toContain('Never');
    await checkScreen(page, 'tokens-list');

    // Search by name, and the status filter.
    await page.getByLabel('Search by name').fill('orders');
    await page.waitForURL(/name=orders/);
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('orders-service');
    await page.getByLabel('Status').selectOption('revoked');
    await page.getByText('No tokens match these filters.').waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => rows.count()).toBe(2);

    // Rotate with a grace period: the old secret and the new one both verify.
    await page.getByRole('button', { name: 'orders-service' }).click();
    const panel = page.getByRole('dialog', { name: 'orders-service' });
    await panel.waitFor();
    await checkScreen(page, 'tokens-detail');
    await panel.getByRole('button', { name: 'Rotate' }).click();
    const rotate = page.getByRole('dialog', { name: 'Rotate “orders-service”' });
    await rotate.getByLabel('Grace period (seconds)').fill('3600');
    await checkScreen(page, 'tokens-rotate');
    await rotate.getByRole('button', { name: 'Rotate token' }).click();
    const rotated = page.getByRole('dialog', { name: 'Token rotated' });
    const newSecret = await rotated.getByLabel('Secret').inputValue();
    expect(newSecret).toMatch(/^tkn_/);
    expect(newSecret).not.toBe(secret);
    await rotated.getByRole('button', { name: 'Done' }).click();
    await rotated.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(newSecret);
    expect(await verify(secret)).toBe(true);
    expect(await verify(newSecret)).toBe(true);

    // Revoke, behind a confirmation.
    await page.getByRole('button', { name: 'orders-service' }).click();
    await panel.getByRole('button', { name: 'Revoke' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke “orders-service”?' });
    await checkScreen(page, 'tokens-revoke');
    await confirm.getByRole('button', { name: 'Revoke token' }).click();
    await confirm.waitFor({ state: 'detached' });
    await rows.filter({ hasText: 'orders-service' }).getByText('Revoked').waitFor();
    expect(await verify(newSecret)).toBe(false);
    await page.getByLabel('Status').selectOption('revoked');
    await expect.poll(() => rows.count()).toBe(1);
    expect(problems).toEqual([]);
  }, 180_000);

  it('returns to sign-in when the session ends, and back to where it was after signing in', async () => {
    const { page, problems } = await e2e.newPage();
    const { api, slug } = await ownerWithWorkspace(page, 'expiring@tokens.example', 'Expiry');
    await page.goto(`/w/${slug}/tokens`);
    await page.getByRole('heading', { name: 'No tokens yet' }).waitFor();
    // The session ends behind the page's back (signed out from elsewhere).
    expect((await api.call('POST', '/v1/auth/logout')).status).toBe(204);
    // The next action that reaches the server finds the session gone: to sign-in, then back.
    await page.getByRole('button', { name: 'Create your first token' }).click();
    const dialog = page.getByRole('dialog', { name: 'New Token' });
    await dialog.getByLabel('Name').fill('after-expiry');
    await dialog.getByRole('checkbox', { name: 'tokens:read' }).check();
    await dialog.getByRole('button', { name: 'Create token' }).click();
    await page.waitForURL(`**/sign-in?next=${encodeURIComponent(`/w/${slug}/tokens`)}`);
    await page.getByText('Sign in to continue.').waitFor();
    await checkScreen(page, 'sign-in-again');
    await page.getByLabel('Email').fill('expiring@tokens.example');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`**/w/${slug}/tokens`);
    await page.getByRole('heading', { name: 'No tokens yet' }).waitFor();
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('tab', { name: 'General', selected: true }).waitFor();
    await checkScreen(page, 'settings-general');
    expect((await apiAs(page)).csrf).not.toBe(api.csrf);
    expect(problems).toEqual([]);
  }, 120_000);
  it('pages through a long list and shows times in the workspace timezone', async () => {
    const { page, problems } = await e2e.newPage();
    const { api, slug } = await ownerWithWorkspace(page, 'pages@tokens.example', 'Pages');
    expect(
      (await api.call('PATCH', `/v1/workspaces/${slug}/settings`, { timezone: 'Asia/Tokyo' })).status,
    ).toBe(200);
    const created: string[] = [];
    for (let i = 1; i <= 21; i++) {
      const res = await api.call('POST', `/v1/workspaces/${slug}/tokens`, {
        name: `svc-${String(i).padStart(2, '0')}`,
        scopes: ['tokens:read'],
      });
      expect(res.status).toBe(201);
      created.push(String(res.body.created_at));
    }
    await page.goto(`/w/${slug}/tokens`);
    await page.getByText('Page 1 of 2 · 21 tokens').waitFor();
    expect(await page.locator('tbody tr').count()).toBe(20);
    await page.getByText('Times in Asia/Tokyo').waitFor();
    // The newest token's creation time, as Tokyo sees it.
    const newest = new Intl.DateTimeFormat('en-GB', {
      dateStyle: 'medium',
      timeStyle: 'short',
      timeZone: 'Asia/Tokyo',
    }).format(new Date(created[created.length - 1] ?? ''));
    expect(await page.locator('tbody tr').filter({ hasText: 'svc-21' }).textContent()).toContain(newest);
    await page.getByRole('button', { name: 'Next' }).click();
    // The page number follows the rows on screen: it changes once page 2 has arrived.
    await page.getByText('Page 2 of 2 · 21 tokens').waitFor();
    await page.waitForURL(/page=2/);
    expect(await page.locator('tbody tr').count()).toBe(1);
    await checkScreen(page, 'tokens-page-2');
    await page.getByRole('button', { name: 'Previous' }).click();
    await page.getByText('Page 1 of 2 · 21 tokens').waitFor();
    expect(problems).toEqual([]);
  }, 120_000);
});
