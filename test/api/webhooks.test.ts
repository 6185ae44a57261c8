import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unseal } from '../../src/auth/sealing.js';
import { loadServerKey } from '../../src/auth/server-key.js';
import { createJobRunner } from '../../src/background.js';
import type { Resolve } from '../../src/webhooks/url-guard.js';
import {
  addMember,
  bearer,
  createApiKey,
  createTestApp,
  dialects,
  expectError,
  type Json,
  json,
  ownerWorkspace,
  type Session,
  signup,
  type TestApp,
} from '../helpers.js';

/** Who calls: a session (slug path) or a bearer credential (short path). */
type Caller = { session: Session; slug: string } | { secret: string };

/** A fake DNS the tests fill in: names not listed do not resolve. */
function fakeDns(): { resolve: Resolve; names: Map<string, string[]> } {
  const names = new Map<string, string[]>();
  return {
    names,
    resolve: async (host) => {
      const addresses = names.get(host);
      if (addresses === undefined)
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
  };
}

describe.each(dialects())('%s: webhook endpoints', (dialect) => {
  let t: TestApp;
  const dns = fakeDns();
  beforeAll(async () => {
    // Private targets allowed, as in development: http:// to a local receiver is accepted.
    t = await createTestApp(dialect, { TOOKEN_WEBHOOK_ALLOW_PRIVATE: 'true' }, { resolve: dns.resolve });
  });
  afterAll(() => t.close());

  const request = (
    caller: Caller,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    p: string,
    payload?: Json,
  ) => {
    const target =
      'session' in caller
        ? { url: `/v1/workspaces/${caller.slug}${p}`, headers: caller.session.headers }
        : { url: `/v1${p}`, headers: bearer(caller.secret) };
    return t.app.inject({
      method,
      url: target.url,
      headers: target.headers,
      ...(payload ? { payload } : {}),
    });
  };

  let n = 0;
  const hookUrl = () => `http://127.0.0.1:9/hook-${++n}`;

  async function setup() {
    const { session, ws, key } = await ownerWorkspace(t.app, { key: 'team' });
    const owner: Caller = { session, slug: ws.slug };
    const admin: Caller = { secret: key.key };
    const create = async (
      caller: Caller = admin,
      payload: Json = { url: hookUrl(), events: ['token.created'] },
    ) => {
      const res = await request(caller, 'POST', '/webhooks', payload);
      expect(res.statusCode, res.body).toBe(201);
      return json(res);
    };
    const member = async (role: 'admin' | 'viewer'): Promise<Caller> => {
      const other = await signup(t.app);
      await addMember(t.services, ws.id, other.user.id, role);
      return { session: other, slug: ws.slug };
    };
    const token = async (scopes: string[]): Promise<Caller> => {
      const res = await request(admin, 'POST', '/tokens', { name: `t-${Math.random()}`, scopes });
      expect(res.statusCode, res.body).toBe(201);
      return { secret: json(res).token };
    };
    const audit = async (event: string) => {
      const res = await request(owner, 'GET', `/audit-logs?event=${event}`);
      expect(res.statusCode).toBe(200);
      return json(res).data as Json[];
    };
    return { session, ws, key, owner, admin, create, member, token, audit };
  }

  describe('create, read, update, delete', () => {
    it('creates an endpoint and shows its whsec_ secret only in the create response', async () => {
      const { admin, create } = await setup();
      const url = hookUrl();
      const hook = await create(admin, {
        url,
        description: 'orders service',
        events: ['token.created', 'token.revoked', 'token.created'],
      });
      expect(hook).toEqual({
        id: expect.stringMatching(/^whk_[a-z0-9]{24}$/),
        url,
        description: 'orders service',
        events: ['token.created', 'token.revoked'],
        enabled: true,
        created_at: '2026-01-15T09:00:00.000Z',
        updated_at: '2026-01-15T09:00:00.000Z',
        failing_since: null,
        secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      });
      expect(Buffer.from(hook.secret.slice('whsec_'.length), 'base64')).toHaveLength(32);

      const got = await request(admin, 'GET', `/webhooks/${hook.id}`);
      expect(got.statusCode).toBe(200);
      const { secret: _secret, ...visible } = hook;
      expect(json(got)).toEqual(visible);
      const list = await request(admin, 'GET', '/webhooks');
      expect(json(list)).toEqual({ data: [visible], meta: { page: 1, per_page: 25, total: 1 } });
      for (const res of [got, list]) {
        expect(res.body).not.toContain('whsec_');
        expect(res.body).not.toContain(hook.secret.slice('whsec_'.length));
      }
    });

    it('stores the secret sealed with AES-256-GCM under the server key, never in clear', async () => {
      const { create } = await setup();
      const hook = await create();
      const row = await t.services.db
        .selectFrom('webhooks')
        .selectAll()
        .where('id', '=', hook.id)
        .executeTakeFirstOrThrow();
      const stored = JSON.stringify(row);
      expect(stored).not.toContain(hook.secret);
      expect(stored).not.toContain(hook.secret.slice('whsec_'.length));
      expect(stored).not.toContain(Buffer.from(hook.secret.slice('whsec_'.length), 'base64').toString('hex'));
      // iv (12) ‖ tag (16) ‖ ciphertext of the 50-character secret
      expect(Buffer.from(row.secret_sealed, 'base64')).toHaveLength(12 + 16 + hook.secret.length);
      expect(unseal(row.secret_sealed, t.services.serverKey)).toBe(hook.secret);
      const wrongKey = Buffer.alloc(32, 7);
      expect(() => unseal(row.secret_sealed, wrongKey)).toThrow();
    });

    it('keeps every secret out of the audit log and the logs', async () => {
      const { owner, create, audit } = await setup();
      const hook = await create();
      const rotated = json(await request(owner, 'POST', `/webhooks/${hook.id}/rotate-secret`));
      const entries = JSON.stringify([
        ...(await audit('webhook.created')),
        ...(await audit('webhook.updated')),
      ]);
      const logs = t.logs.join('\n');
      for (const secret of [hook.secret, rotated.secret]) {
        expect(entries).not.toContain(secret.slice('whsec_'.length));
        expect(logs).not.toContain(secret.slice('whsec_'.length));
      }
    });

    it('lists newest first with paging and validates paging', async () => {
      const { admin, create } = await setup();
      const first = await create();
      t.clock.advance(1000);
      const second = await create();
      t.clock.advance(1000);
      const third = await create();
      const page1 = json(await request(admin, 'GET', '/webhooks?per_page=2'));
      expect(page1.data.map((h: Json) => h.id)).toEqual([third.id, second.id]);
      expect(page1.meta).toEqual({ page: 1, per_page: 2, total: 3 });
      const page2 = json(await request(admin, 'GET', '/webhooks?per_page=2&page=2'));
      expect(page2.data.map((h: Json) => h.id)).toEqual([first.id]);
      expect(json(await request(admin, 'GET', '/webhooks?page=9')).data).toEqual([]);
      expectError(await request(admin, 'GET', '/webhooks?per_page=0'), 400, 'bad_request');
      expectError(await request(admin, 'GET', '/webhooks?per_page=101'), 400, 'bad_request');
      expectError(await request(admin, 'GET', '/webhooks?page=0'), 400, 'bad_request');
    });

    it('updates any subset of fields, audits the changes, and answers a no-op without an entry', async () => {
      const { admin, create, audit } = await setup();
      const hook = await create();
      t.clock.advance(5000);
      const url = hookUrl();
      const res = await request(admin, 'PATCH', `/webhooks/${hook.id}`, {
        url,
        description: 'new',
        events: ['token.revoked', 'api_key.created'],
        enabled: false,
      });
      expect(res.statusCode, res.body).toBe(200);
      const updated = json(res);
      expect(updated).toMatchObject({
        id: hook.id,
        url,
        description: 'new',
        events: ['token.revoked', 'api_key.created'],
        enabled: false,
        created_at: hook.created_at,
      });
      expect(updated.updated_at).not.toBe(hook.updated_at);
      expect(updated).not.toHaveProperty('secret');
      expect(res.body).not.toContain('whsec_');
      expect(json(await request(admin, 'GET', `/webhooks/${hook.id}`))).toEqual(updated);

      const entries = (await audit('webhook.updated')).filter((e) => e.target.id === hook.id);
      expect(entries).toHaveLength(1);
      expect(entries[0]?.changes).toEqual({
        url: { from: hook.url, to: url },
        description: { from: '', to: 'new' },
        events: { from: ['token.created'], to: ['token.revoked', 'api_key.created'] },
        enabled: { from: true, to: false },
      });
      expect(entries[0]?.target).toEqual({ type: 'webhook', id: hook.id, name: url });

      const same = await request(admin, 'PATCH', `/webhooks/${hook.id}`, { description: 'new' });
      expect(same.statusCode).toBe(200);
      expect((await audit('webhook.updated')).filter((e) => e.target.id === hook.id)).toHaveLength(1);
    });

    it('deletes an endpoint (204, then 404) with a webhook.deleted entry', async () => {
      const { admin, create, audit } = await setup();
      const hook = await create();
      const res = await request(admin, 'DELETE', `/webhooks/${hook.id}`);
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe('');
      expectError(await request(admin, 'GET', `/webhooks/${hook.id}`), 404, 'not_found');
      expectError(await request(admin, 'DELETE', `/webhooks/${hook.id}`), 404, 'not_found');
      const entries = await audit('webhook.deleted');
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ target: { type: 'webhook', id: hook.id, name: hook.url } });
    });

    it('allows 20 endpoints per workspace and answers 409 for the 21st, with nothing written', async () => {
      const { admin, create, audit } = await setup();
      for (let i = 0; i < 20; i++) await create();
      const refused = await request(admin, 'POST', '/webhooks', {
        url: hookUrl(),
        events: ['token.created'],
      });
      expect(expectError(refused, 409, 'conflict').message).toMatch(/20/);
      expect(json(await request(admin, 'GET', '/webhooks')).meta.total).toBe(20);
      expect(await audit('webhook.created')).toHaveLength(20);
      // Another workspace has its own 20.
      const other = await setup();
      await other.create();
      // Deleting one makes room again.
      const [last] = json(await request(admin, 'GET', '/webhooks?per_page=1')).data as Json[];
      expect((await request(admin, 'DELETE', `/webhooks/${last?.id}`)).statusCode).toBe(204);
      await create();
    });

    it('audits webhook.created with the acting credential', async () => {
      const { owner, key, admin, create, audit, session } = await setup();
      const viaKey = await create(admin);
      const viaSession = await create(owner);
      const entries = await audit('webhook.created');
      const byTarget = new Map(entries.map((e) => [e.target.id, e]));
      expect(byTarget.get(viaKey.id)).toMatchObject({
        actor: { type: 'api_key', id: key.id, name: key.name },
        target: { type: 'webhook', id: viaKey.id, name: viaKey.url },
      });
      expect(byTarget.get(viaSession.id)).toMatchObject({
        actor: { type: 'user', id: session.user.id },
        target: { type: 'webhook', id: viaSession.id },
      });
    });
  });

  describe('validation', () => {
    it('answers 400 for what the schema rejects', async () => {
      const { admin } = await setup();
      const url = hookUrl();
      const cases: [Json, string][] = [
        [{ events: ['token.created'] }, 'url'],
        [{ url }, 'events'],
        [{ url, events: [] }, 'events'],
        [{ url, events: ['token.exploded'] }, 'events'],
        [{ url, events: ['ping'] }, 'events'],
        [{ url, events: 'token.created' }, 'events'],
        [{ url, events: ['token.created'], secret: 'whsec_mine' }, 'secret'],
        [{ url, events: ['token.created'], enabled: 'yes' }, 'enabled'],
        [{ url, events: ['token.created'], description: 'x'.repeat(501) }, 'description'],
        [{ url: '', events: ['token.created'] }, 'url'],
      ];
      for (const [payload] of cases) {
        const res = await request(admin, 'POST', '/webhooks', payload);
        expectError(res, 400, 'bad_request');
        expect(json(res).details?.length, JSON.stringify(payload)).toBeGreaterThan(0);
      }
      expect(json(await request(admin, 'GET', '/webhooks')).meta.total).toBe(0);
    });

    it('accepts every token event and any audit event name, with token.used only when listed', async () => {
      const { admin, create } = await setup();
      const events = [
        'token.created',
        'token.revoked',
        'token.rotated',
        'token.expired',
        'token.expiring',
        'token.used',
        'api_key.created',
        'member.joined',
        'webhook.disabled',
        'workspace.settings_changed',
        'token.leaked',
      ];
      const hook = await create(admin, { url: hookUrl(), events });
      expect(hook.events).toEqual(events);
    });

    it('refuses a URL that is not a URL or not http(s) as 400', async () => {
      const { admin } = await setup();
      for (const url of [
        'not a url',
        'ftp://example.com/hook',
        'file:///etc/passwd',
        'javascript:alert(1)',
      ]) {
        expectError(
          await request(admin, 'POST', '/webhooks', { url, events: ['token.created'] }),
          400,
          'bad_request',
          'url',
        );
      }
    });

    it('validates PATCH bodies like create', async () => {
      const { admin, create } = await setup();
      const hook = await create();
      expectError(await request(admin, 'PATCH', `/webhooks/${hook.id}`, { events: [] }), 400, 'bad_request');
      expectError(
        await request(admin, 'PATCH', `/webhooks/${hook.id}`, { events: ['nope'] }),
        400,
        'bad_request',
      );
      expectError(await request(admin, 'PATCH', `/webhooks/${hook.id}`, { secret: 'x' }), 400, 'bad_request');
      expectError(
        await request(admin, 'PATCH', `/webhooks/${hook.id}`, { url: 'ftp://x/y' }),
        400,
        'bad_request',
        'url',
      );
      expect(json(await request(admin, 'GET', `/webhooks/${hook.id}`)).events).toEqual(['token.created']);
    });
  });

  describe('who may do what', () => {
    it('lets Owner and Admin write; Viewer sessions and viewer keys only read (403 on every write)', async () => {
      const { owner, session, ws, create, member } = await setup();
      const admin = await member('admin');
      const hook = await create(owner);
      const byAdmin = await create(admin);
      expect(
        json(await request(admin, 'PATCH', `/webhooks/${hook.id}`, { description: 'by admin' })).description,
      ).toBe('by admin');
      expect((await request(admin, 'DELETE', `/webhooks/${byAdmin.id}`)).statusCode).toBe(204);

      const viewer = await member('viewer');
      const viewerKey = await createApiKey(t.app, session, ws.slug, {
        name: 'ro',
        kind: 'team',
        role: 'viewer',
      });
      const viewerPersonal = await createApiKey(t.app, (viewer as { session: Session }).session, ws.slug, {
        name: 'mine',
        kind: 'personal',
      });
      const ping = json(await request(owner, 'POST', `/webhooks/${hook.id}/test`));
      for (const reader of [viewer, { secret: viewerKey.key }, { secret: viewerPersonal.key }] as Caller[]) {
        expect((await request(reader, 'GET', '/webhooks')).statusCode).toBe(200);
        expect((await request(reader, 'GET', `/webhooks/${hook.id}`)).statusCode).toBe(200);
        expect((await request(reader, 'GET', `/webhooks/${hook.id}/deliveries`)).statusCode).toBe(200);
        expectError(
          await request(reader, 'POST', '/webhooks', { url: hookUrl(), events: ['token.created'] }),
          403,
          'forbidden',
        );
        expectError(
          await request(reader, 'PATCH', `/webhooks/${hook.id}`, { description: 'x' }),
          403,
          'forbidden',
        );
        expectError(await request(reader, 'DELETE', `/webhooks/${hook.id}`), 403, 'forbidden');
        expectError(await request(reader, 'POST', `/webhooks/${hook.id}/rotate-secret`), 403, 'forbidden');
        expectError(await request(reader, 'POST', `/webhooks/${hook.id}/test`), 403, 'forbidden');
        expectError(
          await request(reader, 'POST', `/webhooks/${hook.id}/deliveries/${ping.id}/retry`),
          403,
          'forbidden',
        );
      }
      expect(json(await request(owner, 'GET', `/webhooks/${hook.id}`)).description).toBe('by admin');
    });

    it('gives tokens exactly what webhooks:read and webhooks:write allow, with no hierarchy', async () => {
      const { create, token } = await setup();
      const hook = await create();
      const reader = await token(['webhooks:read']);
      // tokens:read too: an endpoint may carry only events its creator may read (webhooks-events.test.ts).
      const writer = await token(['webhooks:write', 'tokens:read']);
      const unrelated = await token(['tokens:read', 'audit:read']);

      expect((await request(reader, 'GET', '/webhooks')).statusCode).toBe(200);
      expect((await request(reader, 'GET', `/webhooks/${hook.id}`)).statusCode).toBe(200);
      expect((await request(reader, 'GET', `/webhooks/${hook.id}/deliveries`)).statusCode).toBe(200);
      expectError(
        await request(reader, 'POST', '/webhooks', { url: hookUrl(), events: ['token.created'] }),
        403,
        'forbidden',
      );
      expectError(
        await request(reader, 'PATCH', `/webhooks/${hook.id}`, { description: 'x' }),
        403,
        'forbidden',
      );

      const made = await request(writer, 'POST', '/webhooks', { url: hookUrl(), events: ['token.created'] });
      expect(made.statusCode).toBe(201);
      expect(json(made).secret).toMatch(/^whsec_/);
      expect(
        (await request(writer, 'PATCH', `/webhooks/${hook.id}`, { description: 'tok' })).statusCode,
      ).toBe(200);
      const ping = await request(writer, 'POST', `/webhooks/${hook.id}/test`);
      expect(ping.statusCode).toBe(202);
      expect(
        (await request(writer, 'POST', `/webhooks/${hook.id}/deliveries/${json(ping).id}/retry`)).statusCode,
      ).toBe(202);
      expect((await request(writer, 'POST', `/webhooks/${hook.id}/rotate-secret`)).statusCode).toBe(200);
      expectError(await request(writer, 'GET', '/webhooks'), 403, 'forbidden');
      expectError(await request(writer, 'GET', `/webhooks/${hook.id}/deliveries`), 403, 'forbidden');
      expect((await request(writer, 'DELETE', `/webhooks/${json(made).id}`)).statusCode).toBe(204);

      expectError(await request(unrelated, 'GET', '/webhooks'), 403, 'forbidden');
      expectError(
        await request(unrelated, 'POST', '/webhooks', { url: hookUrl(), events: ['token.created'] }),
        403,
        'forbidden',
      );
    });

    it("answers 404 for another workspace's endpoint or delivery, and for another workspace's slug", async () => {
      const mine = await setup();
      const theirs = await setup();
      const hook = await theirs.create();
      const ping = json(await request(theirs.admin, 'POST', `/webhooks/${hook.id}/test`));
      const own = await mine.create();
      const me = mine.admin;
      expectError(await request(me, 'GET', `/webhooks/${hook.id}`), 404, 'not_found');
      expectError(await request(me, 'PATCH', `/webhooks/${hook.id}`, { description: 'x' }), 404, 'not_found');
      expectError(await request(me, 'DELETE', `/webhooks/${hook.id}`), 404, 'not_found');
      expectError(await request(me, 'POST', `/webhooks/${hook.id}/rotate-secret`), 404, 'not_found');
      expectError(await request(me, 'POST', `/webhooks/${hook.id}/test`), 404, 'not_found');
      expectError(await request(me, 'GET', `/webhooks/${hook.id}/deliveries`), 404, 'not_found');
      expectError(
        await request(me, 'POST', `/webhooks/${hook.id}/deliveries/${ping.id}/retry`),
        404,
        'not_found',
      );
      // Their delivery under my endpoint is not mine either.
      expectError(
        await request(me, 'POST', `/webhooks/${own.id}/deliveries/${ping.id}/retry`),
        404,
        'not_found',
      );
      expectError(
        await request(me, 'POST', `/webhooks/${own.id}/deliveries/dlv_000000000000000000000000/retry`),
        404,
        'not_found',
      );
      // With a bearer credential, the slug path must name its own workspace.
      const viaSlug = await t.app.inject({
        method: 'GET',
        url: `/v1/workspaces/${theirs.ws.slug}/webhooks`,
        headers: bearer(mine.key.key),
      });
      expectError(viaSlug, 404, 'not_found');
      // A session that is not a member of the workspace.
      expectError(
        await request({ session: mine.session, slug: theirs.ws.slug }, 'GET', '/webhooks'),
        404,
        'not_found',
      );
      expect(json(await request(theirs.admin, 'GET', `/webhooks/${hook.id}`)).description).toBe('');
    });

    it('requires a credential (401) and the CSRF header for session writes (403)', async () => {
      const { ws, session } = await setup();
      expectError(await t.app.inject({ method: 'GET', url: '/v1/webhooks' }), 401, 'unauthorized');
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${ws.slug}/webhooks`,
        headers: { cookie: session.cookie },
        payload: { url: hookUrl(), events: ['token.created'] },
      });
      expectError(res, 403, 'forbidden');
    });
  });

  describe('rotate-secret and test', () => {
    it('rotates: a new secret once, audited as webhook.updated, the old one kept 24 h for signing', async () => {
      const { admin, create, audit } = await setup();
      const hook = await create();
      t.clock.advance(1000);
      const res = await request(admin, 'POST', `/webhooks/${hook.id}/rotate-secret`);
      expect(res.statusCode).toBe(200);
      const rotated = json(res);
      expect(rotated.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(rotated.secret).not.toBe(hook.secret);
      expect(rotated).toMatchObject({ id: hook.id, url: hook.url, events: hook.events, enabled: true });
      expect(json(await request(admin, 'GET', `/webhooks/${hook.id}`))).not.toHaveProperty('secret');
      const row = await t.services.db
        .selectFrom('webhooks')
        .selectAll()
        .where('id', '=', hook.id)
        .executeTakeFirstOrThrow();
      expect(unseal(row.secret_sealed, t.services.serverKey)).toBe(rotated.secret);
      expect(unseal(row.previous_secret_sealed ?? '', t.services.serverKey)).toBe(hook.secret);
      expect(row.previous_secret_until).toBe(t.clock.now() + 24 * 3_600_000);
      const entries = (await audit('webhook.updated')).filter((e) => e.target.id === hook.id);
      expect(entries).toHaveLength(1);
      expect(JSON.stringify(entries)).not.toContain('whsec_');
    });

    it('queues a ping delivery with data {} (202)', async () => {
      const { admin, ws, create } = await setup();
      const hook = await create();
      const res = await request(admin, 'POST', `/webhooks/${hook.id}/test`);
      expect(res.statusCode).toBe(202);
      const delivery = json(res);
      expect(delivery).toEqual({
        id: expect.stringMatching(/^dlv_[a-z0-9]{24}$/),
        event_id: expect.stringMatching(/^evt_[a-z0-9]{24}$/),
        event: 'ping',
        status: 'pending',
        attempts: [],
        next_attempt_at: new Date(t.clock.now()).toISOString(),
        created_at: new Date(t.clock.now()).toISOString(),
      });
      const list = json(await request(admin, 'GET', `/webhooks/${hook.id}/deliveries`));
      expect(list).toEqual({ data: [delivery], meta: { page: 1, per_page: 25, total: 1 } });
      const row = await t.services.db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('id', '=', delivery.id)
        .executeTakeFirstOrThrow();
      expect(JSON.parse(row.body)).toEqual({
        id: delivery.event_id,
        event: 'ping',
        timestamp: new Date(t.clock.now()).toISOString(),
        workspace: { id: ws.id, slug: ws.slug },
        data: {},
      });
    });
  });
});

describe.each(dialects())('%s: webhook URL rules without TOOKEN_WEBHOOK_ALLOW_PRIVATE', (dialect) => {
  let t: TestApp;
  const dns = fakeDns();
  beforeAll(async () => {
    t = await createTestApp(dialect, {}, { resolve: dns.resolve });
    dns.names.set('hooks.example.com', ['93.184.216.34']);
    dns.names.set('v6.example.com', ['2606:2800:220:1:248:1893:25c8:1946']);
    dns.names.set('loopback.example.com', ['127.0.0.1']);
    dns.names.set('metadata.example.com', ['169.254.169.254']);
    dns.names.set('mixed.example.com', ['93.184.216.34', '10.0.0.5']);
    dns.names.set('cgnat.example.com', ['100.64.0.1']);
    dns.names.set('ula.example.com', ['fd00::1']);
    dns.names.set('mapped.example.com', ['::ffff:127.0.0.1']);
  });
  afterAll(() => t.close());

  async function setup() {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const post = (url: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/webhooks',
        headers: bearer(key.key),
        payload: { url, events: ['token.created'] },
      });
    return { key, post };
  }

  it('accepts https:// to a public host, by name (IPv4 or IPv6) or literal', async () => {
    const { post } = await setup();
    for (const url of [
      'https://hooks.example.com/tooken',
      'https://v6.example.com:8443/x?y=1',
      'https://93.184.216.34/hook',
      'https://[2606:2800:220:1:248:1893:25c8:1946]/hook',
    ]) {
      expect((await post(url)).statusCode, url).toBe(201);
    }
  });

  it('refuses http:// as 400, even to a public host', async () => {
    const { post } = await setup();
    expectError(await post('http://hooks.example.com/tooken'), 400, 'bad_request', 'url');
    expectError(await post('http://93.184.216.34/hook'), 400, 'bad_request', 'url');
  });

  it('refuses, as 422, names resolving to loopback or the metadata address, and private literals', async () => {
    const { post } = await setup();
    const refused = [
      'https://loopback.example.com/hook',
      'https://metadata.example.com/latest/meta-data',
      'https://mixed.example.com/hook',
      'https://cgnat.example.com/hook',
      'https://ula.example.com/hook',
      'https://mapped.example.com/hook',
      'https://127.0.0.1/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://10.1.2.3/hook',
      'https://192.168.1.1/hook',
      'https://172.16.0.1/hook',
      'https://100.100.100.100/hook',
      'https://0.0.0.0/hook',
      'https://224.0.0.1/hook',
      'https://[::1]/hook',
      'https://[fe80::1]/hook',
      'https://[::ffff:169.254.169.254]/hook',
      'https://[::ffff:7f00:1]/hook',
      'https://2130706433/hook', // 127.0.0.1 written as one number
      'https://0x7f.1/hook',
    ];
    for (const url of refused) {
      const res = await post(url);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(422);
      expect(json(res).error).toBe('unprocessable_entity');
      expect(json(res).details?.[0]?.field).toBe('url');
    }
  });

  it('never says what a name resolved to, neither in the 422 nor in a refused delivery attempt', async () => {
    const { key, post } = await setup();
    const leaky: [string, string[]][] = [
      ['https://loopback.example.com/hook', ['127.0.0.1']],
      ['https://metadata.example.com/latest/meta-data', ['169.254.169.254']],
      ['https://mixed.example.com/hook', ['93.184.216.34', '10.0.0.5']],
      ['https://cgnat.example.com/hook', ['100.64.0.1']],
      ['https://ula.example.com/hook', ['fd00::1']],
      ['https://mapped.example.com/hook', ['::ffff:127.0.0.1', '127.0.0.1']],
    ];
    for (const [url, addresses] of leaky) {
      const res = expectError(await post(url), 422, 'unprocessable_entity', 'url');
      for (const address of addresses) expect(JSON.stringify(res), url).not.toContain(address);
    }
    // A name that later resolves elsewhere (DNS rebinding): the refused attempt keeps the reason only.
    dns.names.set('rebind.example.com', ['93.184.216.34']);
    const hook = json(await post('https://rebind.example.com/hook'));
    dns.names.set('rebind.example.com', ['10.20.30.40']);
    const ping = await t.app.inject({
      method: 'POST',
      url: `/v1/webhooks/${hook.id}/test`,
      headers: bearer(key.key),
    });
    expect(ping.statusCode).toBe(202);
    const runner = createJobRunner(t.services, {
      error: () => {},
      warn: () => {},
      debug: () => {},
      info: () => {},
    });
    while ((await runner.runDue()) > 0) {}
    const deliveries = json(
      await t.app.inject({
        method: 'GET',
        url: `/v1/webhooks/${hook.id}/deliveries`,
        headers: bearer(key.key),
      }),
    );
    const attempt = deliveries.data[0]?.attempts[0];
    expect(attempt?.status_code).toBeNull();
    expect(attempt?.error).toMatch(/public/);
    expect(JSON.stringify(deliveries)).not.toContain('10.20.30.40');
  });

  it('refuses a host that does not resolve (422) and URLs with credentials', async () => {
    const { post } = await setup();
    expect((await post('https://nowhere.example.com/hook')).statusCode).toBe(422);
    expect([400, 422]).toContain((await post('https://user:pass@hooks.example.com/hook')).statusCode);
  });

  it('applies the same rules to a PATCHed url', async () => {
    const { key, post } = await setup();
    const hook = json(await post('https://hooks.example.com/ok'));
    const patch = (url: string) =>
      t.app.inject({
        method: 'PATCH',
        url: `/v1/webhooks/${hook.id}`,
        headers: bearer(key.key),
        payload: { url },
      });
    expectError(await patch('https://metadata.example.com/x'), 422, 'unprocessable_entity', 'url');
    expectError(await patch('http://hooks.example.com/x'), 400, 'bad_request', 'url');
    expect((await patch('https://hooks.example.com/moved')).statusCode).toBe(200);
  });
});

describe('the server key (TOOKEN_SECRET_KEY)', () => {
  const logged = () => {
    const lines: string[] = [];
    return {
      lines,
      log: {
        info: (_o: object, msg: string) => void lines.push(msg),
        warn: (_o: object, msg: string) => void lines.push(msg),
      },
    };
  };

  it('is generated into the data directory with mode 0600 on first start, logged, and reused', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tooken-key-'));
    try {
      const dataDir = path.join(dir, 'data');
      const first = logged();
      const key = loadServerKey({ secretKey: null, dataDir, databaseUrl: 'sqlite:x.db' }, first.log);
      expect(key).toHaveLength(32);
      const file = path.join(dataDir, 'secret.key');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').equals(key)).toBe(true);
      expect(first.lines.join('\n')).toMatch(/generated TOOKEN_SECRET_KEY/);
      expect(first.lines.join('\n')).not.toContain(key.toString('base64'));
      const second = logged();
      expect(
        loadServerKey({ secretKey: null, dataDir, databaseUrl: 'sqlite:x.db' }, second.log).equals(key),
      ).toBe(true);
      expect(second.lines).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses TOOKEN_SECRET_KEY when it is set and writes nothing', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tooken-key-'));
    try {
      const given = Buffer.alloc(32, 9);
      const out = logged();
      const key = loadServerKey(
        { secretKey: given.toString('base64'), dataDir: dir, databaseUrl: 'sqlite:x.db' },
        out.log,
      );
      expect(key.equals(given)).toBe(true);
      expect(() => statSync(path.join(dir, 'secret.key'))).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
