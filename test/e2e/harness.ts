import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { createTestApp, realTimeClock, type TestApp } from '../helpers.js';
import { ensureWebBuilt } from './build.js';

export const SCREENSHOTS = path.resolve(import.meta.dirname, 'screenshots');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A real server on a fresh SQLite database, listening on a free port, and a browser to drive it. */
export interface E2E {
  t: TestApp;
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  browser: Browser;
  /** A fresh browser context (its own cookie jar) with a page; problems the page logs are collected. */
  newPage(): Promise<{ context: BrowserContext; page: Page; problems: string[] }>;
  close(): Promise<void>;
}

/**
 * Starts the whole stack. The dashboard build must exist first (built under a lock, once). The
 * server runs on real time: the browser computes expiry dates from its own clock.
 */
export async function startE2E(env: Record<string, string> = {}): Promise<E2E> {
  ensureWebBuilt();
  const t = await createTestApp(
    'sqlite',
    { TOOKEN_SIGNUP: 'first-user', ...env },
    { clock: realTimeClock(Date.now()) },
  );
  const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const contexts: BrowserContext[] = [];
  return {
    t,
    baseUrl: address.replace('localhost', '127.0.0.1'),
    browser,
    async newPage() {
      const context = await browser.newContext({ baseURL: address, viewport: { width: 1280, height: 800 } });
      contexts.push(context);
      const page = await context.newPage();
      // A step that cannot happen fails with the locator it waited for, well before the test's own limit.
      page.setDefaultTimeout(20_000);
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        // A refused request (401 while signed out, 400 shown next to a field) is the app at work:
        // the browser logs it, the page shows it. Everything else logged as an error is a problem.
        const text = message.text();
        if (message.type() === 'error' && !/status of 4\d\d/.test(text)) problems.push(`console: ${text}`);
      });
      return { context, page, problems };
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close();
      await t.close();
    },
  };
}

/** Fails on any serious or critical accessibility violation axe finds on the page as it is now. */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(bad, `accessibility of ${screen}`).toEqual([]);
}

/** Saves test/e2e/screenshots/<name>.png (not committed: for people to look at). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Every screen under test gets both: the accessibility check and a screenshot. */
export async function checkScreen(page: Page, name: string): Promise<void> {
  await screenshot(page, name);
  await expectAccessible(page, name);
}

/** Signs up through the dashboard's form (the page must show it). */
export async function fillSignUp(page: Page, person: { name: string; email: string; password: string }) {
  await page.getByLabel('Name').fill(person.name);
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel('Password').fill(person.password);
  await page.getByRole('button', { name: 'Sign up' }).click();
}

/**
 * The API as the page's signed-in person (the browser context's cookie jar plus the CSRF token):
 * for setting up a test and for checking from outside what the dashboard did.
 */
export async function apiAs(page: Page) {
  const request = page.context().request;
  const me = await request.get('/v1/me');
  expect(me.status()).toBe(200);
  const csrf = ((await me.json()) as { csrf_token: string }).csrf_token;
  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, data?: unknown) => {
    const res = await request.fetch(url, {
      method,
      headers: {
        'x-csrf-token': csrf,
        ...(data === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(data === undefined ? {} : { data: JSON.stringify(data) }),
    });
    const text = await res.text();
    return { status: res.status(), body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  return { call, csrf };
}

/** Signs up through the API in the page's browser context (so the page is signed in) and makes a workspace. */
export async function ownerWithWorkspace(page: Page, email: string, workspace: string) {
  const signup = await page.context().request.post('/v1/auth/signup', {
    data: { email, password: 'correct horse battery', name: 'Owner' },
  });
  expect(signup.status()).toBe(201);
  const api = await apiAs(page);
  const created = await api.call('POST', '/v1/workspaces', { name: workspace });
  expect(created.status).toBe(201);
  return { api, slug: String(created.body.slug) };
}
