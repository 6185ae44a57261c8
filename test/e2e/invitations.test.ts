import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiAs, checkScreen, type E2E, fillSignUp, ownerWithWorkspace, startE2E } from './harness.js';

describe('dashboard: invitation by link, roles and workspaces', () => {
  let e2e: E2E;
  beforeAll(async () => {
    // Sign-up is for the first user only: the invited person gets in through the link alone.
    e2e = await startE2E({ TOOKEN_SIGNUP: 'first-user' });
  }, 180_000);
  afterAll(async () => {
    await e2e?.close();
  });

  it('takes a signed-out invitee from the link through sign-up into the workspace, as a Viewer', async () => {
    const owner = await e2e.newPage();
    const { api, slug } = await ownerWithWorkspace(owner.page, 'owner@invites.example', 'Team Space');
    const token = await api.call('POST', `/v1/workspaces/${slug}/tokens`, {
      name: 'ci-deploy',
      scopes: ['tokens:read'],
    });
    expect(token.status).toBe(201);
    const invited = await api.call('POST', `/v1/workspaces/${slug}/invitations`, {
      email: 'vera@invites.example',
      role: 'viewer',
    });
    expect(invited.status).toBe(201);
    // The link as the API gives it (no SMTP here), opened on this test server's own address.
    const link = new URL(String(invited.body.accept_url));
    expect(link.pathname).toBe('/invitations/accept');

    const { page, problems } = await e2e.newPage();
    await page.goto(`${e2e.baseUrl}${link.pathname}${link.search}`);
    await page.getByRole('heading', { name: 'Join a workspace' }).waitFor();
    await checkScreen(page, 'invitation-signed-out');
    await page.getByRole('link', { name: 'Sign up' }).click();
    await page.getByText('Sign up with the address your invitation was sent to.').waitFor();
    await checkScreen(page, 'invitation-sign-up');
    await fillSignUp(page, {
      name: 'Vera Viewer',
      email: 'vera@invites.example',
      password: 'another good password',
    });
    await page.getByRole('button', { name: 'Accept invitation' }).waitFor();
    expect(page.url()).toContain('/invitations/accept?token=');
    await checkScreen(page, 'invitation-accept');
    await page.getByRole('button', { name: 'Accept invitation' }).click();
    await page.waitForURL(`**/w/${slug}/tokens`);

    // A Viewer sees the tokens, and nothing they may not do.
    await page.getByRole('button', { name: 'ci-deploy' }).waitFor();
    expect(await page.getByRole('button', { name: 'New Token' }).count()).toBe(0);
    await checkScreen(page, 'tokens-viewer');
    await page.getByRole('button', { name: 'ci-deploy' }).click();
    const panel = page.getByRole('dialog', { name: 'ci-deploy' });
    await panel.waitFor();
    expect(await panel.getByRole('button', { name: 'Rotate' }).count()).toBe(0);
    expect(await panel.getByRole('button', { name: 'Revoke' }).count()).toBe(0);
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('tab', { name: 'General', selected: true }).waitFor();
    const tabs = await page.getByRole('tab').allTextContents();
    expect(tabs).toEqual(['General', 'API Keys', 'Members', 'Webhooks']);
    await checkScreen(page, 'settings-viewer');
    // … and the server still refuses it.
    const viewerApi = await apiAs(page);
    const refused = await viewerApi.call('POST', `/v1/workspaces/${slug}/tokens`, {
      name: 'nope',
      scopes: ['tokens:read'],
    });
    expect(refused.status).toBe(403);
    const members = await api.call('GET', `/v1/workspaces/${slug}/members`);
    expect(members.body.data).toContainEqual(
      expect.objectContaining({ email: 'vera@invites.example', role: 'viewer' }),
    );

    // Create workspace from the switcher: its creator is its Owner, and lands in it.
    await page.getByRole('button', { name: /Switch workspace/ }).click();
    await page.getByRole('menuitem', { name: /Team Space/ }).waitFor();
    await checkScreen(page, 'workspace-switcher');
    await page.getByRole('menuitem', { name: 'Create workspace' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create workspace' });
    await dialog.getByLabel('Workspace name').fill('Vera Lab');
    await checkScreen(page, 'workspace-create');
    await dialog.getByRole('button', { name: 'Create workspace' }).click();
    await page.waitForURL('**/w/vera-lab/tokens');
    await page.getByRole('button', { name: 'New Token' }).waitFor();
    // Switching back.
    await page.getByRole('button', { name: /Switch workspace/ }).click();
    await page.getByRole('menuitem', { name: /Team Space/ }).click();
    await page.waitForURL(`**/w/${slug}/tokens`);
    await page.getByRole('button', { name: 'ci-deploy' }).waitFor();

    // The link works once: opened again, accepting says why not.
    await page.goto(`${e2e.baseUrl}${link.pathname}${link.search}`);
    await page.getByRole('button', { name: 'Accept invitation' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/accepted|used/i);
    await checkScreen(page, 'invitation-used');
    expect(problems).toEqual([]);
    expect(owner.problems).toEqual([]);
  }, 180_000);

  it('says a link is incomplete, in the dashboard', async () => {
    const { page, problems } = await e2e.newPage();
    await page.goto('/invitations/accept');
    await page.getByText('This invitation link is incomplete.').waitFor();
    await checkScreen(page, 'invitation-incomplete');
    expect(problems).toEqual([]);
  }, 60_000);
});
