import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDashboard } from '../../src/http/dashboard.js';
import { DASHBOARD_POLICY } from '../../src/http/security-headers.js';
import { ensureWebBuilt } from '../e2e/build.js';
import { createTestApp, dialects, json, ownerWorkspace, type TestApp } from '../helpers.js';

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const PUBLIC_URL = 'https://tooken.example.com';

function policyOf(res: LightMyRequestResponse): Record<string, string[]> {
  const header = String(res.headers['content-security-policy'] ?? '');
  return Object.fromEntries(
    header
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter((words) => words[0])
      .map(([name = '', ...sources]) => [name, sources]),
  );
}

function expectDashboardPage(res: LightMyRequestResponse, label: string): void {
  expect(res.statusCode, label).toBe(200);
  expect(res.headers['content-type'], label).toMatch(/^text\/html/);
  expect(res.body, label).toContain('<div id="root"></div>');
  expect(policyOf(res), label).toEqual(
    Object.fromEntries(Object.entries(DASHBOARD_POLICY).map(([name, sources]) => [name, [...sources]])),
  );
  expect(res.headers['x-frame-options'], label).toBe('DENY');
  expect(res.headers['x-content-type-options'], label).toBe('nosniff');
  expect(res.headers['referrer-policy'], label).toBe('no-referrer');
}

describe.each(dialects())('%s: the dashboard is served at /', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    ensureWebBuilt();
    t = await createTestApp(dialect, { TOOKEN_PUBLIC_URL: PUBLIC_URL });
  }, 180_000);
  afterAll(() => t.close());

  it('answers every page path with the app, deep links included, never cached as is', async () => {
    for (const url of ['/', '/sign-in', '/w/acme/tokens', '/w/acme/settings/members', '/no/such/page']) {
      const res = await t.app.inject({ method: 'GET', url, headers: HTML });
      expectDashboardPage(res, url);
      expect(res.headers['cache-control'], url).toBe('no-cache');
    }
    // `/` is the dashboard whatever the browser accepts.
    expectDashboardPage(await t.app.inject({ method: 'GET', url: '/' }), '/ without Accept');
  });

  it('runs no inline script and loads only its own hashed files, which browsers may keep for good', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/', headers: HTML });
    expect(page.body).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/i);
    expect(page.body).not.toMatch(/\sstyle=|\son[a-z]+=/i);
    const assets = [...page.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] ?? '');
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
    expect(assets.some((a) => a.endsWith('.css'))).toBe(true);
    for (const asset of assets) {
      const res = await t.app.inject({ method: 'GET', url: asset });
      expect(res.statusCode, asset).toBe(200);
      expect(res.headers['content-type'], asset).toMatch(/javascript|text\/css/);
      expect(res.headers['cache-control'], asset).toBe('public, max-age=31536000, immutable');
    }
    const icon = await t.app.inject({ method: 'GET', url: '/favicon.svg' });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['content-type']).toMatch(/^image\/svg\+xml/);
    expect(icon.headers['cache-control']).toBe('no-cache');
  });

  it('never answers an API path with the app: those keep their JSON errors', async () => {
    for (const url of [
      '/v1',
      '/v1/nope',
      '/v1/workspaces/acme/nope',
      '/openapi.json/x',
      '/docs/nope',
      '/healthz/x',
      '/readyz/x',
      '/metrics/x',
    ]) {
      const res = await t.app.inject({ method: 'GET', url, headers: HTML });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toMatch(/^application\/json/);
      expect(json(res).error, url).toBe('not_found');
    }
    const signedOut = await t.app.inject({ method: 'GET', url: '/v1/me', headers: HTML });
    expect(signedOut.statusCode).toBe(401);
    expect(policyOf(signedOut)['default-src']).toEqual(["'none'"]);
    // A missing file, or a path asked for as anything but a page, is a JSON 404 too.
    for (const [url, headers] of [
      ['/assets/nope.js', HTML],
      ['/w/acme/tokens', { accept: 'application/json' }],
      ['/../package.json', HTML],
    ] as const) {
      const res = await t.app.inject({ method: 'GET', url, headers });
      if (url === '/../package.json') {
        expect(res.body, url).not.toContain('"workspaces"');
        continue;
      }
      expect(res.statusCode, url).toBe(404);
      expect(json(res).error, url).toBe('not_found');
    }
    // Other methods are not pages.
    const post = await t.app.inject({ method: 'POST', url: '/w/acme/tokens', headers: HTML });
    expect(post.statusCode).toBe(404);
  });

  it('opens the invitation link of accept_url in the dashboard, kept out of caches and logs', async () => {
    const { session, ws } = await ownerWorkspace(t.app);
    const created = await t.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${ws.slug}/invitations`,
      headers: session.headers,
      payload: { email: 'invited.person@example.com', role: 'admin' },
    });
    expect(created.statusCode).toBe(201);
    const link = new URL(json(created).accept_url);
    expect(`${link.origin}${link.pathname}`).toBe(`${PUBLIC_URL}/invitations/accept`);
    const token = link.searchParams.get('token') ?? '';
    expect(token.length).toBeGreaterThanOrEqual(20);
    const page = await t.app.inject({ method: 'GET', url: `${link.pathname}${link.search}`, headers: HTML });
    expectDashboardPage(page, 'invitation link');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(t.logs.join('\n')).not.toContain(token);
  });

  it('opens the password-reset link in the dashboard, kept out of caches and logs', async () => {
    const token = 'A'.repeat(43);
    const from = t.logs.length;
    const page = await t.app.inject({ method: 'GET', url: `/reset-password?token=${token}`, headers: HTML });
    expectDashboardPage(page, 'reset link');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).not.toContain(token);
    expect(t.logs.slice(from).join('')).not.toContain(token);
    // Without a token it is an ordinary page of the app.
    const bare = await t.app.inject({ method: 'GET', url: '/reset-password', headers: HTML });
    expectDashboardPage(bare, 'reset page');
    expect(bare.headers['cache-control']).toBe('no-cache');
  });
});

describe('the dashboard before it is built', () => {
  it('answers / with how to build it, and keeps API paths out of it', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'tooken-no-web-'));
    const app = Fastify();
    try {
      await registerDashboard(app, { root: empty });
      for (const url of ['/', '/w/acme/tokens']) {
        const res = await app.inject({ method: 'GET', url, headers: HTML });
        expect(res.statusCode, url).toBe(200);
        expect(res.headers['content-type'], url).toMatch(/^text\/plain/);
        expect(res.body, url).toContain('npm run build');
      }
      expect((await app.inject({ method: 'GET', url: '/v1/nope', headers: HTML })).statusCode).toBe(404);
    } finally {
      await app.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
