import { createClient, signIn, TookenError, TookenUnreachableError } from '@tooken/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  createTestApp,
  dialects,
  type Json,
  ownerWorkspace,
  PASSWORD,
  signup,
  type TestApp,
} from '../helpers.js';

/** @tooken/client against a real server over HTTP: every resource group, on each database. */
describe.each(dialects())('%s: @tooken/client', (dialect) => {
  let t: TestApp;
  let baseUrl: string;
  let owner: Awaited<ReturnType<typeof ownerWorkspace>> & { key: Json };

  beforeAll(async () => {
    // Webhook hosts resolve to a public address, as they would in production.
    const resolve = async () => [{ address: '93.184.216.34', family: 4 }];
    t = await createTestApp(dialect, {}, { resolve });
    baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
    owner = await ownerWorkspace(t.app, { key: { name: 'owner-cli', kind: 'personal' } });
  });
  afterAll(() => t.close());

  const client = () => createClient({ baseUrl, apiKey: owner.key.key });

  it('creates, lists, gets, verifies, rotates and revokes tokens', async () => {
    const tooken = client();
    const created = await tooken.tokens.create({ name: 'orders-service', scopes: ['tokens:verify'] });
    expect(created.token).toMatch(/^tkn_/);
    expect((await tooken.tokens.get(created.id)).name).toBe('orders-service');
    expect((await tooken.tokens.list({ name: 'orders' })).data.map((x) => x.id)).toContain(created.id);
    expect(await tooken.tokens.verify(created.token, { scopes: ['tokens:verify'] })).toMatchObject({
      valid: true,
      code: 'VALID',
    });
    const rotated = await tooken.tokens.rotate(created.id, { grace_period_seconds: 60 });
    expect(rotated.token).not.toBe(created.token);
    await tooken.tokens.revoke(created.id);
    expect((await tooken.tokens.verify(rotated.token)).code).toBe('REVOKED');
  });

  it('updates tokens and revokes them in bulk', async () => {
    const tooken = client();
    const a = await tooken.tokens.create({
      name: 'platform-a',
      scopes: ['tokens:read'],
      external_id: 'cus_client',
    });
    const b = await tooken.tokens.create({
      name: 'platform-b',
      scopes: ['tokens:read'],
      external_id: 'cus_client',
    });
    const updated = await tooken.tokens.update(a.id, { limits: { uses: { remaining: 5 } } });
    expect(updated.limits.uses?.remaining).toBe(5);
    expect((await tooken.tokens.verify(a.token)).remaining).toBe(4);
    expect((await tooken.tokens.list({ external_id: 'cus_client' })).meta.total).toBe(2);
    expect(await tooken.tokens.revokeMany({ external_id: 'cus_client' })).toEqual({ revoked: 2 });
    expect(await tooken.tokens.revokeMany({ ids: [b.id] })).toEqual({ revoked: 0 });
  });

  it('manages API keys, members and invitations', async () => {
    const tooken = client();
    const key = await tooken.apiKeys.create({ name: 'deploy', kind: 'team', role: 'viewer' });
    expect(key.key).toMatch(/^tok_live_/);
    const regenerated = await tooken.apiKeys.regenerate(key.id);
    expect(regenerated.key).not.toBe(key.key);
    expect((await tooken.apiKeys.list()).data.map((k) => k.id)).toContain(key.id);
    await tooken.apiKeys.delete(key.id);

    const teammate = await signup(t.app);
    await addMember(t.services, owner.ws.id, teammate.user.id, 'viewer');
    expect((await tooken.members.setRole(teammate.user.id, 'admin')).role).toBe('admin');
    expect((await tooken.members.list()).meta.total).toBe(2);
    await tooken.members.remove(teammate.user.id);

    const invitation = await tooken.invitations.create({ email: 'dana@example.com', role: 'viewer' });
    expect((await tooken.invitations.list()).data.map((i) => i.id)).toEqual([invitation.id]);
    await tooken.invitations.revoke(invitation.id);
  });

  it('manages webhooks and their deliveries', async () => {
    const tooken = client();
    const hook = await tooken.webhooks.create({
      url: 'https://hooks.example.com/in',
      events: ['token.revoked'],
    });
    expect(hook.secret).toMatch(/^whsec_/);
    expect((await tooken.webhooks.get(hook.id)).url).toBe('https://hooks.example.com/in');
    expect((await tooken.webhooks.update(hook.id, { description: 'ops' })).description).toBe('ops');
    const ping = await tooken.webhooks.test(hook.id);
    expect((await tooken.webhooks.deliveries(hook.id)).data.map((d) => d.id)).toContain(ping.id);
    expect((await tooken.webhooks.retry(hook.id, ping.id)).status).toBe('pending');
    expect((await tooken.webhooks.rotateSecret(hook.id)).secret).not.toBe(hook.secret);
    expect((await tooken.webhooks.list()).meta.total).toBe(1);
    await tooken.webhooks.delete(hook.id);
  });

  it('reads settings, the audit log, its CSV export as a stream, and the chain', async () => {
    const tooken = client();
    expect((await tooken.settings.update({ timezone: 'Europe/Berlin' })).timezone).toBe('Europe/Berlin');
    expect((await tooken.settings.get()).slug).toBe(owner.ws.slug);
    const entries = await tooken.audit.list({ event: ['workspace.settings_changed'] });
    expect(entries.data[0]?.event).toBe('workspace.settings_changed');
    const csv = await new Response(await tooken.audit.export()).text();
    expect(csv.split('\r\n')[0]).toMatch(/^id,created_at,/);
    expect(csv).toContain('workspace.settings_changed');
    expect(await tooken.audit.verify()).toMatchObject({ ok: true });
  });

  it('acts for a signed-in person in a named workspace, and lists and creates workspaces', async () => {
    const session = await signIn({ baseUrl, email: owner.session.user.email, password: PASSWORD });
    const person = createClient({ baseUrl, session, workspace: owner.ws.slug });
    expect((await person.me()).user.email).toBe(owner.session.user.email);
    const created = await person.workspaces.create({ name: 'Second' });
    expect((await person.workspaces.list()).data.map((w) => w.slug)).toContain(created.slug);
    // A workspace route goes to /v1/workspaces/{slug}/…, as sessions require.
    expect((await person.settings.get()).slug).toBe(owner.ws.slug);
    await person.workspaces.delete(created.slug);
  });

  it('throws the server’s error as TookenError with status, code, message and request id', async () => {
    const error = await client()
      .tokens.get('tok_doesnotexist')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TookenError);
    expect(error).toMatchObject({ status: 404, code: 'not_found', requestId: expect.stringMatching(/.+/) });
    const refused = await createClient({ baseUrl, apiKey: 'tok_live_00000000000000000000' })
      .tokens.list()
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('sends an Idempotency-Key with creating calls, so a retried create is replayed, not repeated', async () => {
    const sent: Headers[] = [];
    const recording: typeof fetch = async (input, init) => {
      sent.push(new Headers(init?.headers));
      return fetch(input, init);
    };
    const tooken = createClient({ baseUrl, apiKey: owner.key.key, fetch: recording });
    await tooken.tokens.create({ name: 'idempotent', scopes: ['tokens:read'] });
    await tooken.tokens.list();
    expect(sent[0]?.get('idempotency-key')).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent[1]?.get('idempotency-key')).toBeNull();
  });
});

describe('@tooken/client without a server', () => {
  it('throws TookenUnreachableError when nothing listens', async () => {
    const tooken = createClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'tok_live_00000000000000000000' });
    await expect(tooken.tokens.list()).rejects.toBeInstanceOf(TookenUnreachableError);
  });
});
