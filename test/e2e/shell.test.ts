import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkScreen, type E2E, fillSignUp, startE2E } from './harness.js';

describe('dashboard: sign-up, the layout and sign-out', () => {
  let e2e: E2E;
  beforeAll(async () => {
    e2e = await startE2E();
  }, 180_000);
  afterAll(async () => {
    await e2e?.close();
  });

  it('signs up the first user, creates a workspace and lands in it, then signs out and back in', async () => {
    const { page, problems } = await e2e.newPage();
    await page.goto('/');
    await page.waitForURL('**/sign-in');
    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    await checkScreen(page, 'sign-in');

    await page.getByRole('link', { name: 'Sign up' }).click();
    await page.waitForURL('**/sign-up');
    await checkScreen(page, 'sign-up');
    await fillSignUp(page, {
      name: 'Ada Owner',
      email: 'ada@example.com',
      password: 'correct horse battery',
    });

    await page.getByRole('heading', { name: 'Create your workspace' }).waitFor();
    await checkScreen(page, 'create-first-workspace');
    await page.getByLabel('Workspace name').fill('Acme Corp');
    await page.getByRole('button', { name: 'Create workspace' }).click();
    await page.waitForURL('**/w/acme-corp/tokens');
    await page.getByRole('heading', { name: 'Tokens', exact: true }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Workspace' });
    expect(await nav.getByRole('link', { name: 'Tokens' }).getAttribute('aria-current')).toBe('page');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/sign-in');
    // A deep link while signed out goes to sign-in and comes back after it.
    await page.goto('/w/acme-corp/settings/members');
    await page.waitForURL(/\/sign-in\?next=/);
    await page.getByLabel('Email').fill('ada@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL('**/w/acme-corp/settings/members');
    await page.getByRole('tab', { name: 'Members', selected: true }).waitFor();
    expect(problems).toEqual([]);
  }, 120_000);
});
