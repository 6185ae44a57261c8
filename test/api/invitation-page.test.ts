import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, createWorkspace, dialects, json, signup, type TestApp } from '../helpers.js';

describe.each(dialects())('%s: the invitation link page', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_PUBLIC_URL: 'https://tooken.example.com' });
  });
  afterAll(() => t.close());

  it('opens from the accept_url and shows how to accept, without caching or leaking the link', async () => {
    const owner = await signup(t.app);
    const ws = await createWorkspace(t.app, owner, 'Invites');
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${ws.slug}/invitations`,
      headers: owner.headers,
      payload: { email: 'new.person@example.com', role: 'admin' },
    });
    expect(res.statusCode).toBe(201);
    const link = new URL(json(res).accept_url);
    expect(link.origin).toBe('https://tooken.example.com');
    const token = link.searchParams.get('token') ?? '';
    const page = await t.app.inject({ method: 'GET', url: `${link.pathname}${link.search}` });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.body).toContain(`{"token":"${token}"}`);
    expect(page.body).toContain('https://tooken.example.com/v1/invitations/accept');
    expect(t.logs.join('\n')).not.toContain(token);
  });

  it('says the link is incomplete when the token is missing or malformed', async () => {
    for (const url of ['/invitations/accept', '/invitations/accept?token=%3Cscript%3E']) {
      const page = await t.app.inject({ method: 'GET', url });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('incomplete');
      expect(page.body).not.toContain('<script>');
    }
  });
});
