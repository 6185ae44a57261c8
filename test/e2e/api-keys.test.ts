import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkScreen, type E2E, ownerWithWorkspace, startE2E } from './harness.js';
import { fieldErrorOf, memberWithRole } from './roles.js';

describe('dashboard: Settings › API Keys', () => {
  let e2e: E2E;
  beforeAll(async () => {
    // Several unrelated Owners sign up: sign-up is open here.
    e2e = await startE2E({ TOOKEN_SIGNUP: 'open' });
  }, 180_000);
  afterAll(async () => {
    await e2e?.close();
  });

  /** What the API answers a key, from outside any browser (no session, no cookie). */
  const withKey = async (key: string, method: 'GET' | 'POST' = 'GET') =>
    (
      await fetch(`${e2e.baseUrl}/v1/tokens`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
        },
        ...(method === 'POST'
          ? { body: JSON.stringify({ name: `t-${Date.now()}`, scopes: ['tokens:read'] }) }
          : {}),
      })
    ).status;

  /** Generates a key through the dialog; returns its secret as shown once, after closing it. */
  const generate = async (page: Page, name: string, team?: 'Admin' | 'Viewer') => {
    await page.getByRole('button', { name: 'New API Key' }).click();
    const dialog = page.getByRole('dialog', { name: 'New API Key' });
    await dialog.getByLabel('Name').fill(name);
    if (team) {
      await dialog.getByLabel('Team').check();
      await dialog.getByLabel('Role').selectOption({ label: team });
    }
    await dialog.getByRole('button', { name: 'Generate' }).click();
    const shown = page.getByRole('dialog', { name: 'API key generated' });
    const key = await shown.getByLabel('Secret').inputValue();
    expect(key).toMatch(/^tok_live_/);
    return { shown, key };
  };

  it('lets an Owner generate personal and team keys shown once, regenerate and delete them', async () => {
    const { context, page, problems } = await e2e.newPage();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: e2e.baseUrl });
    const { api, slug } = await ownerWithWorkspace(page, 'olive@keys.example', 'Key Holders');
    expect(
      (await api.call('PATCH', `/v1/workspaces/${slug}/settings`, { timezone: 'Asia/Tokyo' })).status,
    ).toBe(200);

    await page.goto(`/w/${slug}/settings/api-keys`);
    await page.getByText('No API keys yet.').waitFor();
    await checkScreen(page, 'api-keys-empty');

    await page.getByRole('button', { name: 'New API Key' }).click();
    const dialog = page.getByRole('dialog', { name: 'New API Key' });
    await dialog.getByLabel('Team').check();
    await dialog.getByLabel('Role').waitFor();
    await checkScreen(page, 'api-keys-new');
    // Keyboard: Tab stays inside the dialog; Escape closes it and focus returns to New API Key.
    for (let i = 0; i < 8; i += 1) await page.keyboard.press('Tab');
    expect(await dialog.locator(':focus').count()).toBe(1);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await page.locator(':focus').textContent()).toBe('New API Key');

    // A personal key: shown once with Copy, gone from the page once closed, and it works.
    const personal = await generate(page, 'olive-laptop');
    await personal.shown.getByRole('button', { name: 'Copy' }).click();
    await personal.shown.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(personal.key);
    await checkScreen(page, 'api-keys-secret');
    await personal.shown.getByRole('button', { name: 'Done' }).click();
    await personal.shown.waitFor({ state: 'detached' });
    expect(await page.locator(':focus').textContent()).toBe('New API Key');
    await page.getByRole('row', { name: /olive-laptop/ }).waitFor();
    expect(await page.content()).not.toContain(personal.key);
    expect(await withKey(personal.key)).toBe(200);

    // A team key with the Viewer role: it reads, and may not write.
    const team = await generate(page, 'ci-deploy', 'Viewer');
    await team.shown.getByRole('button', { name: 'Done' }).click();
    const teamRow = page.getByRole('row', { name: /ci-deploy/ });
    await teamRow.getByText('Viewer role').waitFor();
    expect(await teamRow.getByText('Team').count()).toBe(1);
    expect(await withKey(team.key)).toBe(200);
    expect(await withKey(team.key, 'POST')).toBe(403);

    // A name already used: the server's 409 next to Name.
    await page.getByRole('button', { name: 'New API Key' }).click();
    await page.getByRole('dialog', { name: 'New API Key' }).getByLabel('Name').fill('OLIVE-laptop');
    await page.getByRole('button', { name: 'Generate' }).click();
    expect(await fieldErrorOf(page, 'Name')).toBe('An API key with this name already exists');
    await checkScreen(page, 'api-keys-name-taken');
    await page.getByRole('button', { name: 'Cancel' }).click();

    // Times are in the workspace's timezone.
    const listed = await api.call('GET', `/v1/workspaces/${slug}/api-keys`);
    const created = (listed.body.data as { name: string; created_at: string }[]).find(
      (k) => k.name === 'ci-deploy',
    );
    const tokyo = new Intl.DateTimeFormat('en-GB', {
      dateStyle: 'medium',
      timeStyle: 'short',
      timeZone: 'Asia/Tokyo',
    }).format(new Date(String(created?.created_at)));
    await teamRow.getByText(tokyo).waitFor();
    await checkScreen(page, 'api-keys');

    // Regenerate, confirmed: a new secret; the old one stops working at once.
    await page.getByRole('button', { name: 'Regenerate olive-laptop' }).click();
    await page.getByRole('dialog', { name: 'Regenerate “olive-laptop”?' }).waitFor();
    await checkScreen(page, 'api-keys-regenerate');
    await page.getByRole('button', { name: 'Regenerate key' }).click();
    const again = page.getByRole('dialog', { name: 'API key regenerated' });
    const renewed = await again.getByLabel('Secret').inputValue();
    expect(renewed).toMatch(/^tok_live_/);
    expect(renewed).not.toBe(personal.key);
    await again.getByRole('button', { name: 'Done' }).click();
    await again.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(renewed);
    expect(await withKey(personal.key)).toBe(401);
    expect(await withKey(renewed)).toBe(200);

    // Delete, confirmed: gone from the list, and refused from then on.
    await page.getByRole('button', { name: 'Delete ci-deploy' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete “ci-deploy”?' });
    await checkScreen(page, 'api-keys-delete');
    await confirm.getByRole('button', { name: 'Delete key' }).click();
    await confirm.waitFor({ state: 'detached' });
    await teamRow.waitFor({ state: 'detached' });
    expect(await withKey(team.key)).toBe(401);
    expect(problems).toEqual([]);
  }, 180_000);

  it('offers Admins and Viewers personal keys only, and none of the team keys’ actions', async () => {
    const owner = await e2e.newPage();
    const { api, slug } = await ownerWithWorkspace(owner.page, 'otto@keys.example', 'Shared Keys');
    const shared = await api.call('POST', `/v1/workspaces/${slug}/api-keys`, {
      name: 'shared-ci',
      kind: 'team',
    });
    expect(shared.status).toBe(201);
    for (const role of ['admin', 'viewer'] as const) {
      const {
        page,
        problems,
        api: theirs,
      } = await memberWithRole(e2e, api, slug, {
        email: `${role}@keys.example`,
        name: `An ${role}`,
        role,
      });
      await page.goto(`/w/${slug}/settings/api-keys`);
      const sharedRow = page.getByRole('row', { name: /shared-ci/ });
      await sharedRow.waitFor();
      expect(await sharedRow.getByRole('button').count()).toBe(0);

      await page.getByRole('button', { name: 'New API Key' }).click();
      const dialog = page.getByRole('dialog', { name: 'New API Key' });
      await dialog.getByText('A personal key: it acts with your role in this workspace.').waitFor();
      expect(await dialog.getByLabel('Team').count()).toBe(0);
      expect(await dialog.getByLabel('Role').count()).toBe(0);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });

      const mine = await generate(page, `${role}-laptop`);
      await mine.shown.getByRole('button', { name: 'Done' }).click();
      const row = page.getByRole('row', { name: new RegExp(`${role}-laptop`) });
      await row.getByText('Yours').waitFor();
      expect(await row.getByRole('button', { name: /Regenerate/ }).count()).toBe(1);
      expect(await row.getByRole('button', { name: /Delete/ }).count()).toBe(1);
      await checkScreen(page, `api-keys-${role}`);
      // The key acts with its member's role.
      expect(await withKey(mine.key)).toBe(200);
      expect(await withKey(mine.key, 'POST')).toBe(role === 'admin' ? 201 : 403);
      // … and the server refuses a team key anyway.
      const refused = await theirs.call('POST', `/v1/workspaces/${slug}/api-keys`, {
        name: 'sneaky',
        kind: 'team',
      });
      expect(refused.status).toBe(403);
      expect(problems).toEqual([]);
    }
  }, 180_000);

  it('shows a loading state while the list is on its way, and the error with Retry when it fails', async () => {
    const { page, problems } = await e2e.newPage();
    const { slug } = await ownerWithWorkspace(page, 'omar@keys.example', 'Flaky Network');
    // The list request waits until the test lets it go, then fails twice (the call and its one retry).
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let failures = 0;
    await page.route(`**/v1/workspaces/${slug}/api-keys?*`, async (route) => {
      await held;
      if (failures >= 2) return route.continue();
      failures += 1;
      return route.fulfill({
        status: 503,
        contentType: 'application/json',
        headers: { 'retry-after': '5' },
        body: JSON.stringify({
          error: 'unavailable',
          message: 'The database cannot be reached right now; retry shortly',
          status: 503,
          request_id: 'req_test',
        }),
      });
    });
    await page.goto(`/w/${slug}/settings/api-keys`);
    await page.getByRole('status').filter({ hasText: 'Loading API keys…' }).waitFor();
    await checkScreen(page, 'api-keys-loading');
    release();
    await page.getByRole('alert').filter({ hasText: 'The database cannot be reached right now' }).waitFor();
    await checkScreen(page, 'api-keys-error');
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.getByText('No API keys yet.').waitFor();
    // The browser logs the two refused loads; nothing else went wrong.
    expect(problems.filter((p) => !/status of 503/.test(p))).toEqual([]);
    expect(failures).toBe(2);
  }, 120_000);
});
