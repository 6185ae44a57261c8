import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember } from '../helpers.js';
import { checkScreen, type E2E, ownerWithWorkspace, startE2E } from './harness.js';

const DAY = 86_400_000;
const ZONE = 'Asia/Tokyo';

/** The calendar day of an instant in Tokyo, `YYYY-MM-DD`. */
const tokyoDay = (iso: string) =>
  new Intl.DateTimeFormat('en-CA', {
    timeZone: ZONE,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date(iso));
/** The API's bounds for whole Tokyo days (Tokyo has no daylight-saving time: always +09:00). */
const tokyoRange = (first: string, last: string) => {
  const next = new Date(Date.parse(`${last}T00:00:00Z`) + DAY).toISOString().slice(0, 10);
  return `from=${encodeURIComponent(`${first}T00:00:00+09:00`)}&to=${encodeURIComponent(`${next}T00:00:00+09:00`)}`;
};

interface Entry {
  id: string;
  event: string;
  created_at: string;
  target: { name: string | null } | null;
}

describe('dashboard: Settings → Audit Logs', () => {
  let e2e: E2E;
  beforeAll(async () => {
    e2e = await startE2E({ TOOKEN_SIGNUP: 'open' });
  }, 180_000);
  afterAll(async () => {
    await e2e?.close();
  });

  const signUp = async (page: Page, email: string) => {
    const res = await page.context().request.post('/v1/auth/signup', {
      data: { email, password: 'correct horse battery', name: email.split('@')[0] },
    });
    expect(res.status()).toBe(201);
    return String(((await res.json()) as { user: { id: string } }).user.id);
  };

  it('filters by days, event and actor, shows Tokyo times, exports a range as CSV and shows Owners the chain check; Admins and Viewers see what their role allows', async () => {
    const { page, problems } = await e2e.newPage();
    // Three days ago (the server's clock moved back): the workspace, its timezone, a first token.
    e2e.t.clock.advance(-3 * DAY);
    let slug = '';
    let api: Awaited<ReturnType<typeof ownerWithWorkspace>>['api'];
    try {
      ({ api, slug } = await ownerWithWorkspace(page, 'owner@audit.example', 'Audited'));
      expect((await api.call('PATCH', `/v1/workspaces/${slug}/settings`, { timezone: ZONE })).status).toBe(
        200,
      );
      expect(
        (
          await api.call('POST', `/v1/workspaces/${slug}/tokens`, {
            name: 'old-token',
            scopes: ['tokens:read'],
          })
        ).status,
      ).toBe(201);
    } finally {
      e2e.t.clock.advance(3 * DAY);
    }
    // Today: a team API key, a token made by that key, and one made by the Owner.
    const key = await api.call('POST', `/v1/workspaces/${slug}/api-keys`, { name: 'ci-key', kind: 'team' });
    expect(key.status).toBe(201);
    const byKey = await fetch(`${e2e.baseUrl}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${String(key.body.key)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'key-token', scopes: ['tokens:read'] }),
    });
    expect(byKey.status).toBe(201);
    expect(
      (
        await api.call('POST', `/v1/workspaces/${slug}/tokens`, {
          name: 'owner-token',
          scopes: ['tokens:read'],
        })
      ).status,
    ).toBe(201);
    const list = async (query = '') =>
      (await api.call('GET', `/v1/workspaces/${slug}/audit-logs?per_page=100${query}`)).body.data as Entry[];
    const all = await list();
    expect(all).toHaveLength(6);

    await page.goto(`/w/${slug}/settings/audit-logs`);
    const rows = page.getByRole('table', { name: 'Audit log' }).locator('tbody tr');
    const shownIds = async () =>
      (await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-entry')))).sort();
    await expect.poll(() => rows.count()).toBe(6);
    await page.getByText(`Times in ${ZONE}.`).waitFor();
    // Each time as Tokyo sees it.
    for (const entry of all) {
      const tokyo = new Intl.DateTimeFormat('en-GB', {
        dateStyle: 'medium',
        timeStyle: 'medium',
        timeZone: ZONE,
      }).format(new Date(entry.created_at));
      expect(await page.locator(`tr[data-entry="${entry.id}"] time`).textContent()).toBe(tokyo);
    }
    await checkScreen(page, 'audit-log');

    // Event, then actor: each narrows the table.
    const toolbar = page.locator('.toolbar');
    await toolbar.getByLabel('Event').selectOption('token.created');
    await expect.poll(() => rows.count()).toBe(3);
    await toolbar.getByLabel('Actor').selectOption({ label: 'ci-key (team)' });
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('key-token');
    expect(await rows.first().textContent()).toContain('ci-key (API key)');
    await checkScreen(page, 'audit-filtered');
    await toolbar.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => rows.count()).toBe(6);

    // A range of days: only the entries of three days ago, exactly as the API finds them.
    const oldDay = tokyoDay(all.find((e) => e.target?.name === 'old-token')?.created_at ?? '');
    const expected = (await list(`&${tokyoRange(oldDay, oldDay)}`)).map((e) => e.id).sort();
    expect(expected).toHaveLength(3);
    await toolbar.getByLabel('From', { exact: true }).fill(oldDay);
    await toolbar.getByLabel('To', { exact: true }).fill(oldDay);
    await expect.poll(() => rows.count()).toBe(3);
    expect(await shownIds()).toEqual(expected);
    await page.getByText('old-token').waitFor();

    // Export → the CSV of the chosen days, the same as the API's export of that range.
    await page.getByRole('button', { name: 'Export' }).click();
    const dialog = page.getByRole('dialog', { name: 'Export CSV' });
    expect(await dialog.getByLabel('From', { exact: true }).inputValue()).toBe(oldDay);
    expect(await dialog.getByLabel('To', { exact: true }).inputValue()).toBe(oldDay);
    await checkScreen(page, 'audit-export');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      dialog.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`tooken-audit-${slug}-${oldDay}-${oldDay}.csv`);
    const csv = readFileSync(String(await download.path()), 'utf8');
    const fromApi = await page
      .context()
      .request.get(`/v1/workspaces/${slug}/audit-logs/export?${tokyoRange(oldDay, oldDay)}`);
    expect(fromApi.status()).toBe(200);
    expect(csv).toBe(await fromApi.text());
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^id,created_at,created_at_local,event,/);
    expect(
      lines
        .slice(1)
        .map((line) => line.split(',')[0])
        .sort(),
    ).toEqual(expected);
    await dialog.waitFor({ state: 'detached' });

    // The Owner sees the chain verification.
    await page.getByRole('heading', { name: 'Chain verification' }).waitFor();
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await page.getByText('Chain intact: 6 entries checked.').waitFor();
    await checkScreen(page, 'audit-chain');

    // Long lists paginate.
    for (let i = 1; i <= 25; i++) {
      const res = await api.call('POST', `/v1/workspaces/${slug}/tokens`, {
        name: `bulk-${i}`,
        scopes: ['tokens:read'],
      });
      expect(res.status).toBe(201);
    }
    await page.goto(`/w/${slug}/settings/audit-logs`);
    await page.getByText('Page 1 of 2 · 31 entries').waitFor();
    expect(await rows.count()).toBe(25);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('Page 2 of 2 · 31 entries').waitFor();
    await expect.poll(() => rows.count()).toBe(6);
    await checkScreen(page, 'audit-page-2');
    expect(problems).toEqual([]);

    // An Admin reads and exports the log, without the chain verification (Owners only).
    const workspaceId = String((await api.call('GET', `/v1/workspaces/${slug}/settings`)).body.id);
    const admin = await e2e.newPage();
    await addMember(e2e.t.services, workspaceId, await signUp(admin.page, 'admin@audit.example'), 'admin');
    await admin.page.goto(`/w/${slug}/settings/audit-logs`);
    await admin.page.getByText('Page 1 of 2 · 31 entries').waitFor();
    await admin.page.getByRole('button', { name: 'Export' }).waitFor();
    expect(await admin.page.getByRole('heading', { name: 'Chain verification' }).count()).toBe(0);
    await checkScreen(admin.page, 'audit-admin');
    expect(admin.problems).toEqual([]);

    // A Viewer has no Audit Logs tab (and the server refuses the log).
    const viewer = await e2e.newPage();
    await addMember(e2e.t.services, workspaceId, await signUp(viewer.page, 'viewer@audit.example'), 'viewer');
    await viewer.page.goto(`/w/${slug}/settings/webhooks`);
    await viewer.page.getByRole('tab', { name: 'Webhooks', selected: true }).waitFor();
    expect(await viewer.page.getByRole('tab', { name: 'Audit Logs' }).count()).toBe(0);
    expect((await viewer.page.context().request.get(`/v1/workspaces/${slug}/audit-logs`)).status()).toBe(403);
    expect(viewer.problems).toEqual([]);
  }, 180_000);
});
