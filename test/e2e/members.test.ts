import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkScreen, type E2E, ownerWithWorkspace, startE2E } from './harness.js';
import { fieldErrorOf, memberWithRole } from './roles.js';

interface Row {
  email: string;
  role: string;
}

describe('dashboard: Settings › Members', () => {
  let e2e: E2E;
  beforeAll(async () => {
    // Several unrelated Owners sign up: sign-up is open here.
    e2e = await startE2E({ TOOKEN_SIGNUP: 'open' });
  }, 180_000);
  afterAll(async () => {
    await e2e?.close();
  });

  it('lets an Owner invite by email and role, copy and revoke the link, change roles and remove members', async () => {
    const { context, page, problems } = await e2e.newPage();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: e2e.baseUrl });
    const { api, slug } = await ownerWithWorkspace(page, 'olive@crew.example', 'Crew');
    expect(
      (await api.call('PATCH', `/v1/workspaces/${slug}/settings`, { timezone: 'America/New_York' })).status,
    ).toBe(200);
    await memberWithRole(e2e, api, slug, { email: 'ada@crew.example', name: 'Ada Admin', role: 'admin' });
    await memberWithRole(e2e, api, slug, { email: 'vic@crew.example', name: 'Vic Viewer', role: 'viewer' });
    const members = async () => (await api.call('GET', `/v1/workspaces/${slug}/members`)).body.data as Row[];
    const invitations = async () =>
      (await api.call('GET', `/v1/workspaces/${slug}/invitations`)).body.data as (Row & {
        accept_url: string;
        expires_at: string;
      })[];

    await page.goto(`/w/${slug}/settings/members`);
    await page.getByRole('row', { name: /vic@crew\.example/ }).waitFor();
    await page.getByText('No pending invitations.').waitFor();
    expect(await page.getByRole('combobox', { name: 'Role of ada@crew.example' }).inputValue()).toBe('admin');
    await checkScreen(page, 'members');

    // Invite: Email and a Role dropdown; a malformed address is refused next to Email.
    await page.getByRole('button', { name: 'Invite' }).click();
    const dialog = page.getByRole('dialog', { name: 'Invite a member' });
    expect(await dialog.getByLabel('Role').locator('option').allTextContents()).toEqual([
      'Owner',
      'Admin',
      'Viewer',
    ]);
    await dialog.getByLabel('Email').fill('not-an-address');
    await dialog.getByRole('button', { name: 'Invite' }).click();
    expect(await fieldErrorOf(page, 'Email')).toMatch(/Email must match format/);
    // An existing member: the server's 409, said in the dialog.
    await dialog.getByLabel('Email').fill('ada@crew.example');
    await dialog.getByRole('button', { name: 'Invite' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'ada@crew.example is already a member' }).waitFor();
    await dialog.getByLabel('Email').fill('nia@crew.example');
    await dialog.getByLabel('Role').selectOption({ label: 'Admin' });
    await checkScreen(page, 'members-invite');
    await dialog.getByRole('button', { name: 'Invite' }).click();
    await dialog.waitFor({ state: 'detached' });

    // The pending invitation, with its link to copy (no SMTP here) and its expiry in the workspace's timezone.
    const pending = page.getByRole('row', { name: /nia@crew\.example/ });
    await pending.waitFor();
    const [invitation] = await invitations();
    expect(invitation).toMatchObject({ email: 'nia@crew.example', role: 'admin' });
    const link = await pending.getByLabel('Invitation link for nia@crew.example').inputValue();
    expect(link).toBe(invitation?.accept_url);
    expect(new URL(link).pathname).toBe('/invitations/accept');
    await pending.getByRole('button', { name: 'Copy link for nia@crew.example' }).click();
    await pending.getByText('Copied.').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(link);
    const expires = new Intl.DateTimeFormat('en-GB', {
      dateStyle: 'medium',
      timeStyle: 'short',
      timeZone: 'America/New_York',
    }).format(new Date(String(invitation?.expires_at)));
    await pending.getByText(expires).waitFor();
    expect(await pending.getByText('Admin', { exact: true }).count()).toBe(1);
    await checkScreen(page, 'members-pending');

    // Revoke it, confirmed: gone, and its link is dead.
    await pending.getByRole('button', { name: /Revoke/ }).click();
    const revoke = page.getByRole('dialog', { name: 'Revoke the invitation for nia@crew.example?' });
    await checkScreen(page, 'members-revoke');
    await revoke.getByRole('button', { name: 'Revoke invitation' }).click();
    await revoke.waitFor({ state: 'detached' });
    await page.getByText('No pending invitations.').waitFor();
    expect(await invitations()).toEqual([]);

    // Role change, saved at once.
    await page.getByRole('combobox', { name: 'Role of vic@crew.example' }).selectOption({ label: 'Admin' });
    await page.getByText('vic@crew.example is now Admin.').waitFor();
    expect(await members()).toContainEqual(
      expect.objectContaining({ email: 'vic@crew.example', role: 'admin' }),
    );
    // The last Owner cannot step down: the server's 409 is shown, the role stays.
    await page
      .getByRole('combobox', { name: 'Role of olive@crew.example' })
      .selectOption({ label: 'Viewer' });
    await page.getByRole('alert').filter({ hasText: 'at least one Owner' }).waitFor();
    expect(await page.getByRole('combobox', { name: 'Role of olive@crew.example' }).inputValue()).toBe(
      'owner',
    );
    expect(await members()).toContainEqual(
      expect.objectContaining({ email: 'olive@crew.example', role: 'owner' }),
    );
    await checkScreen(page, 'members-last-owner');

    // Remove, confirmed.
    await page.getByRole('button', { name: 'Remove ada@crew.example' }).click();
    const remove = page.getByRole('dialog', { name: 'Remove ada@crew.example?' });
    await checkScreen(page, 'members-remove');
    await remove.getByRole('button', { name: 'Remove member' }).click();
    await remove.waitFor({ state: 'detached' });
    await page.getByRole('row', { name: /ada@crew\.example/ }).waitFor({ state: 'detached' });
    expect((await members()).map((m) => m.email).sort()).toEqual(['olive@crew.example', 'vic@crew.example']);
    expect(problems).toEqual([]);
  }, 180_000);

  it('shows Admins and Viewers the members and invitations with nothing to change', async () => {
    const owner = await e2e.newPage();
    const { api, slug } = await ownerWithWorkspace(owner.page, 'otto@crew.example', 'Readers');
    const invited = await api.call('POST', `/v1/workspaces/${slug}/invitations`, {
      email: 'later@crew.example',
      role: 'viewer',
    });
    expect(invited.status).toBe(201);
    for (const role of ['admin', 'viewer'] as const) {
      const {
        page,
        problems,
        api: theirs,
      } = await memberWithRole(e2e, api, slug, {
        email: `${role}@crew.example`,
        name: `An ${role}`,
        role,
      });
      await page.goto(`/w/${slug}/settings/members`);
      await page
        .getByRole('region', { name: 'Members' })
        .getByRole('row', { name: /otto@crew\.example/ })
        .waitFor();
      const pending = page.getByRole('row', { name: /later@crew\.example/ });
      await pending.waitFor();
      await page.getByText('Only Owners can invite, change roles or remove members.').waitFor();
      expect(await page.getByRole('button', { name: 'Invite' }).count()).toBe(0);
      expect(await page.getByRole('combobox').count()).toBe(0);
      expect(await page.getByRole('button', { name: /Remove|Revoke/ }).count()).toBe(0);
      // Only Owners get invitation links.
      expect(await page.getByRole('button', { name: /Copy link/ }).count()).toBe(0);
      await checkScreen(page, `members-${role}`);
      // … and the server refuses anyway.
      const refused = await theirs.call('POST', `/v1/workspaces/${slug}/invitations`, {
        email: 'sneaky@crew.example',
        role: 'owner',
      });
      expect(refused.status).toBe(403);
      expect(problems).toEqual([]);
    }
  }, 180_000);
});
