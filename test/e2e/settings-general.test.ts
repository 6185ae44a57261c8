import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkScreen, type E2E, ownerWithWorkspace, startE2E } from './harness.js';
import { fieldErrorOf, memberWithRole } from './roles.js';

describe('dashboard: Settings › General', () => {
  let e2e: E2E;
  beforeAll(async () => {
    // Several unrelated Owners sign up: sign-up is open here.
    e2e = await startE2E({ TOOKEN_SIGNUP: 'open' });
  }, 180_000);
  afterAll(async () => {
    await e2e?.close();
  });

  it('lets an Owner change every setting, shows the server’s refusals next to their fields, and moves to a new slug', async () => {
    const { page, problems } = await e2e.newPage();
    const { api, slug } = await ownerWithWorkspace(page, 'olive@general.example', 'General Store');
    const taken = await api.call('POST', '/v1/workspaces', { name: 'Taken Name' });
    expect(taken.status).toBe(201);
    const settings = async (at = slug) => api.call('GET', `/v1/workspaces/${at}/settings`);

    await page.goto(`/w/${slug}/settings/general`);
    await page.getByRole('heading', { name: 'Workspace', exact: true }).waitFor();
    expect(await page.getByLabel('Workspace name').inputValue()).toBe('General Store');
    expect(await page.getByLabel('Default expiration', { exact: true }).inputValue()).toBe('90');
    await checkScreen(page, 'settings-general');

    await page.getByLabel('Workspace name').fill('General Store Ltd');
    await page.getByLabel('Timezone').fill('Europe/Berlin');
    await page.getByLabel('Default expiration', { exact: true }).fill('30');
    await page.getByLabel('Audit log retention').fill('120');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Changes saved.').waitFor();
    expect((await settings()).body).toMatchObject({
      name: 'General Store Ltd',
      timezone: 'Europe/Berlin',
      default_token_expiration_days: 30,
      audit_log_retention_days: 120,
    });
    // The workspace switcher shows the new name (the session's list was read again).
    await page
      .getByRole('button', { name: /Switch workspace/ })
      .filter({ hasText: 'General Store Ltd' })
      .waitFor();

    // An unknown timezone: the server's 422, next to Timezone; nothing changes.
    await page.getByLabel('Timezone').fill('Mars/Olympus_Mons');
    await page.getByRole('button', { name: 'Save changes' }).click();
    expect(await fieldErrorOf(page, 'Timezone')).toContain('Unknown IANA timezone');
    // A retention past 365 days: the schema's 400, next to Audit log retention.
    await page.getByLabel('Timezone').fill('Europe/Berlin');
    await page.getByLabel('Audit log retention').fill('500');
    await page.getByRole('button', { name: 'Save changes' }).click();
    expect(await fieldErrorOf(page, 'Audit log retention')).toMatch(/365/);
    // A slug another workspace has: 409, next to Slug.
    await page.getByLabel('Audit log retention').fill('120');
    await page.getByLabel('Slug').fill(String(taken.body.slug));
    await page.getByRole('note').filter({ hasText: 'Saving moves this workspace' }).waitFor();
    await page.getByRole('button', { name: 'Save changes' }).click();
    expect(await fieldErrorOf(page, 'Slug')).toBe('This slug is already taken');
    await checkScreen(page, 'settings-general-errors');
    expect((await settings()).body).toMatchObject({
      timezone: 'Europe/Berlin',
      audit_log_retention_days: 120,
    });

    // Never expires by default.
    await page.getByLabel('Slug').fill(slug);
    await page.getByLabel('Never').check();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Changes saved.').waitFor();
    await expect.poll(async () => (await settings()).body.default_token_expiration_days).toBeNull();

    // Custom scopes: added and removed at once; a malformed one is refused next to its field.
    await page.getByLabel('New custom scope').fill('orders:read');
    await page.getByRole('button', { name: 'Add scope' }).click();
    await page.getByRole('button', { name: 'Remove orders:read' }).waitFor();
    await page.getByLabel('New custom scope').fill('billing:write');
    await page.getByRole('button', { name: 'Add scope' }).click();
    await page.getByRole('button', { name: 'Remove billing:write' }).waitFor();
    expect((await settings()).body.custom_scopes).toEqual(['orders:read', 'billing:write']);
    await page.getByLabel('New custom scope').fill('Orders');
    await page.getByRole('button', { name: 'Add scope' }).click();
    expect(await fieldErrorOf(page, 'New custom scope')).toMatch(/Custom scopes must match pattern/);
    await page.getByLabel('New custom scope').fill('tokens:read');
    await page.getByRole('button', { name: 'Add scope' }).click();
    await page.getByText('"tokens:read" is a built-in scope').waitFor();
    await page.getByRole('button', { name: 'Remove orders:read' }).click();
    await page.getByRole('button', { name: 'Remove orders:read' }).waitFor({ state: 'detached' });
    expect((await settings()).body.custom_scopes).toEqual(['billing:write']);

    // The leak policy.
    await page.getByLabel('Notify only').check();
    await page.getByRole('button', { name: 'Save leak policy' }).click();
    await page.getByText('Leak policy saved.').waitFor();
    expect((await settings()).body.leak_policy).toBe('notify');

    // A new slug moves the dashboard to it; the old API paths answer 404.
    await page.getByLabel('Slug').fill('general-store-eu');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.waitForURL('**/w/general-store-eu/settings/general');
    await page.getByRole('heading', { name: 'Workspace', exact: true }).waitFor();
    expect(await page.getByLabel('Slug').inputValue()).toBe('general-store-eu');
    expect((await settings()).status).toBe(404);
    expect((await settings('general-store-eu')).body).toMatchObject({
      slug: 'general-store-eu',
      name: 'General Store Ltd',
      leak_policy: 'notify',
    });
    // The rest of the dashboard follows: Tokens is at the new address.
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.waitForURL('**/w/general-store-eu/tokens');
    expect(problems).toEqual([]);
  }, 180_000);

  it('shows Admins and Viewers the settings to read, with nothing to change', async () => {
    const owner = await e2e.newPage();
    const { api, slug } = await ownerWithWorkspace(owner.page, 'olga@general.example', 'Read Only Co');
    expect(
      (await api.call('PATCH', `/v1/workspaces/${slug}/settings`, { custom_scopes: ['orders:read'] })).status,
    ).toBe(200);
    for (const role of ['admin', 'viewer'] as const) {
      const {
        page,
        problems,
        api: theirs,
      } = await memberWithRole(e2e, api, slug, {
        email: `${role}@general.example`,
        name: `An ${role}`,
        role,
      });
      await page.goto(`/w/${slug}/settings/general`);
      await page.getByText('Only Owners can change these settings.').waitFor();
      await page.getByText('orders:read').waitFor();
      expect(await page.getByRole('textbox').count()).toBe(0);
      expect(await page.getByRole('button', { name: /Save/ }).count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Add scope' }).count()).toBe(0);
      await checkScreen(page, `settings-general-${role}`);
      // … and the server refuses it anyway.
      expect(
        (await theirs.call('PATCH', `/v1/workspaces/${slug}/settings`, { name: 'Mine now' })).status,
      ).toBe(403);
      expect(problems).toEqual([]);
    }
  }, 180_000);
});
