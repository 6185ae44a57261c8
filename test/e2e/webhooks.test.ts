import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobRunner } from '../../src/background.js';
import type { JobRunner } from '../../src/jobs/runner.js';
import { addMember } from '../helpers.js';
import { expectedTookenSignature, header, type Receiver, startReceiver } from '../webhook-receiver.js';
import { apiAs, checkScreen, type E2E, ownerWithWorkspace, startE2E } from './harness.js';

const silent = { error() {}, warn() {}, debug() {}, info() {} };

describe('dashboard: Settings → Webhooks', () => {
  let e2e: E2E;
  let receiver: Receiver;
  let jobs: JobRunner;
  /** Runs every due background job (fan-out, then the delivery attempts), as the server's runner would. */
  const deliver = async () => {
    for (let i = 0; i < 50; i++) if ((await jobs.runDue()) === 0) return;
    throw new Error('the job queue did not drain');
  };

  beforeAll(async () => {
    // The receiver listens on 127.0.0.1 over http, which only a development setting allows.
    e2e = await startE2E({ TOOKEN_SIGNUP: 'open', TOOKEN_WEBHOOK_ALLOW_PRIVATE: 'true' });
    receiver = await startReceiver();
    jobs = createJobRunner(e2e.t.services, silent);
  }, 180_000);
  afterAll(async () => {
    await receiver?.close();
    await e2e?.close();
  });

  it('creates a webhook whose secret is shown once, shows its deliveries, retries a failed one and rotates the secret', async () => {
    const { context, page, problems } = await e2e.newPage();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: e2e.baseUrl });
    const { api, slug } = await ownerWithWorkspace(page, 'owner@webhooks.example', 'Hooks');
    const newToken = async (name: string) =>
      expect(
        (await api.call('POST', `/v1/workspaces/${slug}/tokens`, { name, scopes: ['tokens:read'] })).status,
      ).toBe(201);

    await page.goto(`/w/${slug}/settings/webhooks`);
    await page.getByRole('tab', { name: 'Webhooks', selected: true }).waitFor();
    await page.getByText('No webhooks yet.').waitFor();
    await checkScreen(page, 'webhooks-empty');

    // The dialog is keyboard-usable: it takes the focus, Escape closes it and gives the focus back.
    const open = page.getByRole('button', { name: 'New Webhook' });
    await open.click();
    const dialog = page.getByRole('dialog', { name: 'New Webhook' });
    await dialog.waitFor();
    expect(await dialog.getByLabel('URL').evaluate((el) => el === el.ownerDocument.activeElement)).toBe(true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => open.evaluate((el) => el === el.ownerDocument.activeElement)).toBe(true);

    // An invalid URL: the server's message is shown next to the URL field (opened by keyboard).
    await page.keyboard.press('Enter');
    await dialog.getByLabel('URL').fill('not a url');
    await dialog.getByRole('button', { name: 'Create webhook' }).click();
    const urlError = dialog.locator('.field-error');
    await urlError.waitFor();
    expect(await urlError.textContent()).toContain('is not a valid URL');
    expect(await dialog.getByLabel('URL').getAttribute('aria-invalid')).toBe('true');
    // The message is tied to the field: read out with it.
    const describedBy = String(await dialog.getByLabel('URL').getAttribute('aria-describedby'));
    expect(describedBy).toContain(String(await urlError.getAttribute('id')));
    await checkScreen(page, 'webhooks-new-invalid');

    // Created: the secret is shown once, with Copy.
    const hookUrl = receiver.url('/hook');
    await dialog.getByLabel('URL').fill(hookUrl);
    expect(await dialog.getByRole('checkbox', { name: 'token.created' }).isChecked()).toBe(true);
    await dialog.getByRole('button', { name: 'Create webhook' }).click();
    const shown = page.getByRole('dialog', { name: 'Webhook created' });
    await shown.waitFor();
    const secret = await shown.getByLabel('Secret').inputValue();
    expect(secret).toMatch(/^whsec_/);
    await shown.getByRole('button', { name: 'Copy' }).click();
    await shown.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(secret);
    await checkScreen(page, 'webhooks-secret');
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(secret);
    await page.getByRole('table', { name: 'Webhooks' }).getByRole('button', { name: hookUrl }).waitFor();
    await page.getByText('No deliveries yet.').waitFor();

    // An event happens; its delivery appears with its status and the receiver's response code.
    await newToken('first');
    await deliver();
    expect(receiver.at('/hook')).toHaveLength(1);
    const first = receiver.at('/hook')[0];
    if (!first) throw new Error('no delivery arrived');
    expect(header(first, 'x-tooken-signature')).toBe(expectedTookenSignature(secret, first.body));
    const deliveries = page.getByRole('table', { name: 'Deliveries' });
    const rows = deliveries.locator('tbody tr');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => rows.count()).toBe(1);
    await rows.first().getByText('Succeeded').waitFor();
    expect(await rows.first().textContent()).toContain('token.created');
    expect(await rows.first().locator('td.response').textContent()).toBe('200');
    // A delivery that succeeded is not offered Retry.
    expect(await rows.first().getByRole('button', { name: 'Retry' }).count()).toBe(0);
    await checkScreen(page, 'webhooks-deliveries');

    // The receiver fails: the delivery waits for its next attempt, showing the 500; Retry sends it now.
    let failing = true;
    receiver.respond('/hook', () => (failing ? { status: 500, body: 'boom' } : { status: 204 }));
    await newToken('second');
    await deliver();
    expect(receiver.at('/hook')).toHaveLength(2);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => rows.count()).toBe(2);
    const failed = rows.first();
    await failed.locator('td.response').getByText('500').waitFor();
    await failed.getByText('Pending').waitFor();
    await checkScreen(page, 'webhooks-delivery-failed');
    failing = false;
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/retry') && r.request().method() === 'POST'),
      failed.getByRole('button', { name: 'Retry' }).click(),
    ]);
    await deliver();
    expect(receiver.at('/hook')).toHaveLength(3);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await failed.getByText('Succeeded').waitFor();
    expect(await failed.locator('td.response').textContent()).toBe('204');
    expect(await failed.locator('td').nth(3).textContent()).toBe('2');

    // Rotate secret, behind a confirmation: the new secret is shown once and signs what follows.
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const confirm = page.getByRole('dialog', { name: 'Rotate the signing secret?' });
    await checkScreen(page, 'webhooks-rotate');
    await confirm.getByRole('button', { name: 'Rotate secret' }).click();
    const rotated = page.getByRole('dialog', { name: 'Secret rotated' });
    const newSecret = await rotated.getByLabel('Secret').inputValue();
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(secret);
    await rotated.getByRole('button', { name: 'Done' }).click();
    await rotated.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(newSecret);
    await newToken('third');
    await deliver();
    const last = receiver.at('/hook')[3];
    if (!last) throw new Error('no delivery arrived after the rotation');
    expect(header(last, 'x-tooken-signature')).toBe(expectedTookenSignature(newSecret, last.body));

    // Send test event: a ping delivery. Disable and Enable. Delete, behind a confirmation.
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByText('A ping event is on its way').waitFor();
    await rows.filter({ hasText: 'ping' }).waitFor();
    const details = page.getByRole('region', { name: hookUrl });
    await page.getByRole('button', { name: 'Disable' }).click();
    await details.getByText('Disabled').waitFor();
    await page.getByRole('button', { name: 'Enable' }).click();
    await details.getByText('Enabled').waitFor();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const remove = page.getByRole('dialog', { name: 'Delete this webhook?' });
    await checkScreen(page, 'webhooks-delete');
    await remove.getByRole('button', { name: 'Delete webhook' }).click();
    await remove.waitFor({ state: 'detached' });
    await page.getByText('No webhooks yet.').waitFor();
    expect((await api.call('GET', `/v1/workspaces/${slug}/webhooks`)).body.data).toEqual([]);
    expect(problems).toEqual([]);
  }, 180_000);

  it('shows a Viewer the webhooks and their deliveries, offering no change (which the server refuses)', async () => {
    const owner = await e2e.newPage();
    const { api, slug } = await ownerWithWorkspace(owner.page, 'owner2@webhooks.example', 'Readers');
    receiver.respond('/readers', () => ({ status: 503 }));
    const hookUrl = receiver.url('/readers');
    expect(
      (await api.call('POST', `/v1/workspaces/${slug}/webhooks`, { url: hookUrl, events: ['token.created'] }))
        .status,
    ).toBe(201);
    expect(
      (await api.call('POST', `/v1/workspaces/${slug}/tokens`, { name: 'seen', scopes: ['tokens:read'] }))
        .status,
    ).toBe(201);
    await deliver();
    const workspaceId = String((await api.call('GET', `/v1/workspaces/${slug}/settings`)).body.id);

    const { page, problems } = await e2e.newPage();
    const signup = await page.context().request.post('/v1/auth/signup', {
      data: { email: 'viewer@webhooks.example', password: 'correct horse battery', name: 'Vera Viewer' },
    });
    expect(signup.status()).toBe(201);
    const viewerId = String(((await signup.json()) as { user: { id: string } }).user.id);
    await addMember(e2e.t.services, workspaceId, viewerId, 'viewer');

    await page.goto(`/w/${slug}/settings/webhooks`);
    await page.getByRole('table', { name: 'Webhooks' }).getByRole('button', { name: hookUrl }).click();
    const rows = page.getByRole('table', { name: 'Deliveries' }).locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(1);
    await rows.first().getByText('Pending').waitFor();
    expect(await rows.first().locator('td.response').textContent()).toBe('503');
    for (const name of ['New Webhook', 'Retry', 'Rotate secret', 'Send test event', 'Disable', 'Delete'])
      expect(await page.getByRole('button', { name, exact: true }).count(), name).toBe(0);
    // No Audit Logs tab for a Viewer.
    expect(await page.getByRole('tab', { name: 'Audit Logs' }).count()).toBe(0);
    await checkScreen(page, 'webhooks-viewer');
    // The server refuses what the page does not offer.
    const viewerApi = await apiAs(page);
    expect(
      (
        await viewerApi.call('POST', `/v1/workspaces/${slug}/webhooks`, {
          url: hookUrl,
          events: ['token.created'],
        })
      ).status,
    ).toBe(403);
    expect(problems).toEqual([]);
    expect(owner.problems).toEqual([]);
  }, 120_000);
});
