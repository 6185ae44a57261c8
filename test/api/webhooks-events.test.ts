import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  auditRows,
  bearer,
  createTestApp,
  dialects,
  expectError,
  type Json,
  json,
  ownerWorkspace,
  signup,
  type TestApp,
} from '../helpers.js';

/**
 * A webhook hands the content of its events to whoever controls its URL, so a caller may make an
 * endpoint carry only events it may read itself: token events need the right to view tokens
 * (`tokens:read`), audit events the right to view the audit log (Owner, Admin or `audit:read`).
 * Written from docs/webhooks.md#who-may-subscribe-to-what, not from the code.
 */

const TOKEN_EVENTS = ['token.created', 'token.revoked', 'token.used', 'token.expiring'];
const AUDIT_EVENTS = [
  'member.invited',
  'api_key.created',
  'workspace.settings_changed',
  'token.leaked',
  'webhook.created',
];

type Caller = { headers: Record<string, string>; base: string };

describe.each(dialects())('%s: which events a webhook may carry', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_WEBHOOK_ALLOW_PRIVATE: 'true' });
  });
  afterAll(() => t.close());

  let n = 0;
  const hookUrl = () => `http://127.0.0.1:9/events-${++n}`;
  const send = (caller: Caller, method: 'GET' | 'POST' | 'PATCH', path: string, payload?: Json) =>
    t.app.inject({
      method,
      url: `${caller.base}${path}`,
      headers: caller.headers,
      ...(payload === undefined ? {} : { payload }),
    });

  async function setup() {
    const { session, ws } = await ownerWorkspace(t.app);
    const owner: Caller = { headers: session.headers, base: `/v1/workspaces/${ws.slug}` };
    const token = async (scopes: string[]): Promise<Caller> => {
      const res = await send(owner, 'POST', '/tokens', {
        name: `t-${randomBytes(3).toString('hex')}`,
        scopes,
      });
      expect(res.statusCode, res.body).toBe(201);
      return { headers: bearer(json(res).token), base: '/v1' };
    };
    const person = async (role: 'admin' | 'owner'): Promise<Caller> => {
      const other = await signup(t.app);
      await addMember(t.services, ws.id, other.user.id, role);
      return { headers: other.headers, base: `/v1/workspaces/${ws.slug}` };
    };
    const hook = async (events: string[]) => {
      const res = await send(owner, 'POST', '/webhooks', { url: hookUrl(), events });
      expect(res.statusCode, res.body).toBe(201);
      return json(res);
    };
    const hooks = async () => json(await send(owner, 'GET', '/webhooks')).data as Json[];
    return { ws, owner, token, person, hook, hooks };
  }

  describe('POST /webhooks', () => {
    it('refuses a webhooks:write token audit events, naming the first it may not read', async () => {
      const { ws, token, hooks } = await setup();
      const writer = await token(['webhooks:write', 'tokens:read']);
      const res = await send(writer, 'POST', '/webhooks', {
        url: hookUrl(),
        events: ['token.created', 'member.invited', 'api_key.created', 'workspace.settings_changed'],
      });
      const body = expectError(res, 403, 'forbidden', 'events[1]');
      expect(body.message).toContain('member.invited');
      expect(body.message).toContain('audit:read');
      const bare = await token(['webhooks:write']);
      const repro = await send(bare, 'POST', '/webhooks', {
        url: hookUrl(),
        events: ['member.invited', 'api_key.created', 'workspace.settings_changed'],
      });
      expect(expectError(repro, 403, 'forbidden', 'events[0]').message).toContain('member.invited');
      expect(await hooks()).toHaveLength(0);
      expect(await auditRows(t.services, ws.id, 'webhook.created')).toHaveLength(0);
    });

    it('refuses token events to a token without tokens:read', async () => {
      const { token, hooks } = await setup();
      const writer = await token(['webhooks:write', 'audit:read']);
      for (const event of TOKEN_EVENTS) {
        const res = await send(writer, 'POST', '/webhooks', { url: hookUrl(), events: [event] });
        expect(expectError(res, 403, 'forbidden', 'events[0]').message).toContain('tokens:read');
      }
      expect(await hooks()).toHaveLength(0);
    });

    it('lets a token carry exactly the kinds of events its scopes let it read', async () => {
      const { token } = await setup();
      const tokensOnly = await token(['webhooks:write', 'tokens:read']);
      const auditOnly = await token(['webhooks:write', 'audit:read']);
      const both = await token(['webhooks:write', 'tokens:read', 'audit:read']);
      const create = (caller: Caller, events: string[]) =>
        send(caller, 'POST', '/webhooks', { url: hookUrl(), events });
      expect((await create(tokensOnly, TOKEN_EVENTS)).statusCode).toBe(201);
      expect((await create(auditOnly, AUDIT_EVENTS)).statusCode).toBe(201);
      expect((await create(both, [...TOKEN_EVENTS, ...AUDIT_EVENTS])).statusCode).toBe(201);
    });

    it('lets Owners and Admins, and an admin team key, carry any event', async () => {
      const { owner, person, ws } = await setup();
      const keyRes = await send(owner, 'POST', '/api-keys', { name: 'ci', kind: 'team', role: 'admin' });
      const callers = [owner, await person('admin'), { headers: bearer(json(keyRes).key), base: '/v1' }];
      for (const caller of callers) {
        const res = await send(caller, 'POST', '/webhooks', {
          url: hookUrl(),
          events: [...TOKEN_EVENTS, ...AUDIT_EVENTS],
        });
        expect(res.statusCode, res.body).toBe(201);
      }
      expect(await auditRows(t.services, ws.id, 'webhook.created')).toHaveLength(3);
    });
  });

  describe('PATCH /webhooks/{id}', () => {
    it('refuses moving an endpoint whose events the caller may not read: that would take them over', async () => {
      const { ws, token, hook, owner } = await setup();
      const audited = await hook(['token.created', 'member.invited']);
      const writer = await token(['webhooks:write', 'tokens:read']);
      const res = await send(writer, 'PATCH', `/webhooks/${audited.id}`, { url: hookUrl() });
      expect(expectError(res, 403, 'forbidden', 'url').message).toContain('member.invited');
      // Even when the events change too: deliveries already queued, and retries, go to the new URL.
      const both = await send(writer, 'PATCH', `/webhooks/${audited.id}`, {
        url: hookUrl(),
        events: ['token.created'],
      });
      expectError(both, 403, 'forbidden', 'url');
      expect(json(await send(owner, 'GET', `/webhooks/${audited.id}`)).url).toBe(audited.url);
      expect(await auditRows(t.services, ws.id, 'webhook.updated')).toHaveLength(0);
    });

    it('refuses adding an event the caller may not read, naming it', async () => {
      const { token, hook, owner } = await setup();
      const tokenHook = await hook(['token.created']);
      const writer = await token(['webhooks:write', 'tokens:read']);
      const res = await send(writer, 'PATCH', `/webhooks/${tokenHook.id}`, {
        events: ['token.created', 'api_key.created'],
      });
      expect(expectError(res, 403, 'forbidden', 'events[1]').message).toContain('api_key.created');
      expect(json(await send(owner, 'GET', `/webhooks/${tokenHook.id}`)).events).toEqual(['token.created']);
    });

    it('lets a caller change events and URL among the events it may read, and the rest of any endpoint', async () => {
      const { token, hook } = await setup();
      const tokenHook = await hook(['token.created']);
      const audited = await hook(['member.invited']);
      const writer = await token(['webhooks:write', 'tokens:read']);
      const moved = await send(writer, 'PATCH', `/webhooks/${tokenHook.id}`, {
        url: hookUrl(),
        events: ['token.revoked', 'token.used'],
      });
      expect(moved.statusCode, moved.body).toBe(200);
      expect(json(moved).events).toEqual(['token.revoked', 'token.used']);
      // Neither URL nor events: nothing is delivered anywhere new.
      const described = await send(writer, 'PATCH', `/webhooks/${audited.id}`, {
        description: 'paused',
        enabled: false,
      });
      expect(described.statusCode, described.body).toBe(200);
      // Sending the same URL and events again changes nothing, so needs nothing more.
      const same = await send(writer, 'PATCH', `/webhooks/${audited.id}`, {
        url: audited.url,
        events: ['member.invited'],
      });
      expect(same.statusCode, same.body).toBe(200);
    });

    it('lets an Admin or an audit:read token move an endpoint carrying audit events', async () => {
      const { token, hook, person } = await setup();
      const audited = await hook(['member.invited', 'token.leaked']);
      const admin = await person('admin');
      expect((await send(admin, 'PATCH', `/webhooks/${audited.id}`, { url: hookUrl() })).statusCode).toBe(
        200,
      );
      const auditor = await token(['webhooks:write', 'audit:read']);
      const res = await send(auditor, 'PATCH', `/webhooks/${audited.id}`, { url: hookUrl() });
      expect(res.statusCode, res.body).toBe(200);
    });
  });
});
