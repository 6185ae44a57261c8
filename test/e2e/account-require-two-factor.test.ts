import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkScreen, type E2E, ownerWithWorkspace, startE2E } from './harness.js';
import { memberWithRole } from './roles.js';
import { enrolByApi, totp } from './totp.js';

describe('dashboard: a workspace that requires two-factor', () => {
  let e2e: E2E;
  beforeAll(async () => {
    e2e = await startE2E({ TOOKEN_SIGNUP: 'open' });
  }, 180_000);
  afterAll(async () => {
    await e2e?.close();
  });

  it('is refused to an Owner without two-factor, then blocks a member until they enrol', async () => {
    const owner = await e2e.newPage();
    const { api, slug } = await ownerWithWorkspace(owner.page, 'opal@example.com', 'Strict');
    const member = await memberWithRole(e2e, api, slug, {
      email: 'max@example.com',
      name: 'Max',
      role: 'viewer',
    });
    // The member has the workspace open before the Owner requires two-factor.
    await member.page.goto(`/w/${slug}/tokens`);
    await member.page.getByRole('heading', { name: 'Tokens', exact: true }).waitFor();

    // The Owner's own account has no two-factor: the server refuses, the page says why.
    await owner.page.goto(`/w/${slug}/settings/general`);
    const toggle = owner.page.getByRole('checkbox', { name: 'Require two-factor authentication' });
    await toggle.click();
    const refusal = owner.page.getByRole('alert').filter({ hasText: /two-factor/i });
    await refusal.waitFor();
    expect(await toggle.isChecked()).toBe(false);
    await checkScreen(owner.page, 'settings-require-two-factor-refused');

    await enrolByApi(api.call);
    await owner.page.reload();
    await toggle.click();
    await owner.page.getByText('Two-factor is now required.').waitFor();
    expect(await toggle.isChecked()).toBe(true);
    await checkScreen(owner.page, 'settings-require-two-factor');
    const settings = await api.call('GET', `/v1/workspaces/${slug}/settings`);
    expect(settings.body.require_two_factor).toBe(true);

    // The member's next call is refused with 403 two_factor_required: the page walks them through enrolling.
    const { page, problems } = member;
    await page.reload();
    await page.getByRole('heading', { name: 'Set up two-factor authentication' }).waitFor();
    await page.getByText('The workspace “Strict” requires two-factor authentication').waitFor();
    expect(await page.getByRole('navigation', { name: 'Workspace' }).count()).toBe(0);
    await checkScreen(page, 'require-two-factor');
    await page.getByRole('button', { name: 'Enable two-factor authentication' }).click();
    const secret = await page.getByLabel('Secret').inputValue();
    await checkScreen(page, 'require-two-factor-enrol');
    await page.getByLabel('Authentication code').fill(totp(secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('list', { name: 'Recovery codes' }).waitFor();
    await checkScreen(page, 'require-two-factor-recovery-codes');
    await page.getByRole('button', { name: 'I have saved my recovery codes' }).click();

    // Admitted: the workspace opens.
    await page.getByRole('heading', { name: 'Tokens', exact: true }).waitFor();
    expect(page.url()).toContain(`/w/${slug}/tokens`);
    const tokens = await member.api.call('GET', `/v1/workspaces/${slug}/tokens`);
    expect(tokens.status).toBe(200);
    expect(problems).toEqual([]);
    expect(owner.problems).toEqual([]);
  }, 180_000);

  it('sends a member whose open page gets 403 two_factor_required to the enrolment page', async () => {
    const owner = await e2e.newPage();
    const { api, slug } = await ownerWithWorkspace(owner.page, 'olga@example.com', 'Later');
    await enrolByApi(api.call);
    const member = await memberWithRole(e2e, api, slug, {
      email: 'mia@example.com',
      name: 'Mia',
      role: 'admin',
    });
    await member.page.goto(`/w/${slug}/tokens`);
    await member.page.getByRole('heading', { name: 'Tokens', exact: true }).waitFor();
    expect(
      (await api.call('PATCH', `/v1/workspaces/${slug}/settings`, { require_two_factor: true })).status,
    ).toBe(200);
    // Without reloading: the next call the page makes (opening Settings) answers 403.
    await member.page
      .getByRole('navigation', { name: 'Workspace' })
      .getByRole('link', { name: 'Settings' })
      .click();
    await member.page.getByRole('heading', { name: 'Set up two-factor authentication' }).waitFor();
    expect(member.problems).toEqual([]);
  }, 120_000);
});
