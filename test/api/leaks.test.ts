import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/auth/credentials.js';
import {
  auditRows,
  bearer,
  createTestApp,
  dialects,
  expandEvents,
  expectError,
  type Json,
  json,
  outboxRows,
  ownerWorkspace,
  type TestApp,
} from '../helpers.js';

const onPostgres = dialects().filter((d) => d === 'postgres');

/** Every test reports from its own client address, so each starts with a full per-IP budget. */
let lastIp = 0;
const nextIp = () => {
  lastIp += 1;
  return `198.51.100.${lastIp}`;
};

describe.each(dialects())('%s: leaked-secret reports', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_WEBHOOK_ALLOW_PRIVATE: 'true' });
  });
  afterAll(() => t.close());

  const report = (
    payload: unknown,
    options: { ip?: string; headers?: Record<string, string> } = {},
  ): Promise<LightMyRequestResponse> =>
    t.app.inject({
      method: 'POST',
      url: '/v1/tokens/leaked',
      headers: { 'content-type': 'application/json', ...options.headers },
      payload: JSON.stringify(payload),
      remoteAddress: options.ip ?? nextIp(),
    });

  /** A workspace with a team key, a live token, and a webhook subscribed to the leak events. */
  async function setup(policy: 'revoke' | 'notify' = 'revoke') {
    const { session, ws, key } = await ownerWorkspace(t.app, { key: 'team' });
    if (policy !== 'revoke') {
      const res = await t.app.inject({
        method: 'PATCH',
        url: `/v1/workspaces/${ws.slug}/settings`,
        headers: session.headers,
        payload: { leak_policy: policy },
      });
      expect(res.statusCode, res.body).toBe(200);
    }
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(key.key),
      payload: { name: 'exposed', scopes: ['tokens:read'] },
    });
    expect(created.statusCode, created.body).toBe(201);
    const hook = await t.app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: bearer(key.key),
      payload: {
        url: 'http://127.0.0.1:9/hook',
        events: ['token.leaked', 'api_key.leaked', 'token.revoked', 'api_key.deleted'],
      },
    });
    expect(hook.statusCode, hook.body).toBe(201);
    return { session, ws, key, token: json(created) };
  }

  const verify = async (keySecret: string, secret: string) =>
    json(
      await t.app.inject({
        method: 'POST',
        url: '/v1/tokens/verify',
        headers: bearer(keySecret),
        payload: { token: secret },
      }),
    ).code;

  /** A call made with the credential itself: 401 once it is revoked or deleted. */
  const callWith = async (secret: string, url: string) =>
    (await t.app.inject({ method: 'GET', url, headers: bearer(secret) })).statusCode;

  const expectReceived = (res: LightMyRequestResponse) => {
    expect(res.statusCode, res.body).toBe(202);
    expect(json(res)).toEqual({ received: true });
  };

  describe('the answer', () => {
    it('is 202 {received: true} for a live token, a live API key, an unknown secret, a bad checksum and a non-secret', async () => {
      const { key, token } = await setup('notify');
      const forged = `${token.token.slice(0, -1)}${token.token.endsWith('a') ? 'b' : 'a'}`;
      const answers = [];
      for (const secret of [
        token.token,
        key.key,
        generateSecret('token'),
        generateSecret('api_key'),
        forged,
        'hello world',
        '',
      ]) {
        const res = await report({ token: secret });
        expectReceived(res);
        answers.push({ status: res.statusCode, type: res.headers['content-type'], body: res.body });
      }
      // Nothing in the answer tells a live secret from any other string.
      expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    });

    it('needs no credential, and ignores one that is sent: a bad bearer or a cookie without CSRF header', async () => {
      const { session, token } = await setup('notify');
      expectReceived(await report({ token: token.token }, { headers: bearer('tok_live_nonsense') }));
      expectReceived(await report({ token: token.token }, { headers: { cookie: session.cookie } }));
    });

    it('refuses a body of the wrong shape with 400, before looking at any secret', async () => {
      for (const payload of [{}, { token: 42 }, { token: 'x', extra: true }, [], 'tkn_abc', null]) {
        expectError(await report(payload), 400, 'bad_request');
      }
      expectError(await report({ token: 'x'.repeat(1001) }), 400, 'bad_request', 'token');
      const tooMany = Array.from({ length: 101 }, () => ({ token: generateSecret('token') }));
      expectError(await report(tooMany), 400, 'bad_request');
    });

    it('is documented in /openapi.json as needing no credential', async () => {
      const doc = json(await t.app.inject({ method: 'GET', url: '/openapi.json' }));
      const operation = doc.paths['/v1/tokens/leaked']?.post;
      expect(operation).toBeDefined();
      expect(operation.security).toEqual([]);
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['202', '400', '429']));
    });
  });

  describe('under the revoke policy (the default)', () => {
    it('revokes a reported token at once, audited as token.leaked and token.revoked by the system, with webhooks', async () => {
      const { ws, key, token } = await setup();
      expect(await verify(key.key, token.token)).toBe('VALID'); // now in the verify cache
      expect(await callWith(token.token, '/v1/tokens')).toBe(200);
      const ip = nextIp();
      expectReceived(await report({ token: token.token }, { ip, headers: { 'user-agent': 'scanner/1.0' } }));
      expect(await verify(key.key, token.token)).toBe('REVOKED');
      expect(await callWith(token.token, '/v1/tokens')).toBe(401);

      const [leaked] = await auditRows(t.services, ws.id, 'token.leaked');
      expect(leaked).toMatchObject({
        actor_type: 'system',
        actor_id: null,
        target_type: 'token',
        target_id: token.id,
        target_name: 'exposed',
        ip,
        user_agent: 'scanner/1.0',
      });
      const revoked = await auditRows(t.services, ws.id, 'token.revoked');
      expect(revoked).toHaveLength(1);
      expect(revoked[0]).toMatchObject({ actor_type: 'system', target_id: token.id });
      expect(revoked[0]?.request_id).toBe(leaked?.request_id);

      const [leakEvent] = await outboxRows(t.services, ws.id, 'token.leaked');
      expect(JSON.parse(leakEvent?.payload ?? '{}')).toMatchObject({
        event: 'token.leaked',
        actor: { type: 'system' },
        target: { type: 'token', id: token.id },
      });
      expect(await outboxRows(t.services, ws.id, 'token.revoked')).toHaveLength(1);
      // Each committed event becomes its deliveries moments after commit.
      await expandEvents(t);
      const deliveries = await t.services.db
        .selectFrom('webhook_deliveries')
        .select('event')
        .where('event', 'in', ['token.leaked', 'token.revoked'])
        .innerJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id')
        .where('webhooks.workspace_id', '=', ws.id)
        .execute();
      expect(deliveries.map((d) => d.event).sort()).toEqual(['token.leaked', 'token.revoked']);
    });

    it('deletes a reported API key at once, even one just used, audited as api_key.leaked and api_key.deleted', async () => {
      const { ws, session } = await setup();
      const other = await t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${ws.slug}/api-keys`,
        headers: session.headers,
        payload: { name: 'ci', kind: 'team', role: 'viewer' },
      });
      const leakedKey = json(other);
      expect(await callWith(leakedKey.key, '/v1/settings')).toBe(200); // now in the credential cache
      expectReceived(await report({ token: leakedKey.key }));
      expect(await callWith(leakedKey.key, '/v1/settings')).toBe(401);
      const [leaked] = await auditRows(t.services, ws.id, 'api_key.leaked');
      expect(leaked).toMatchObject({ actor_type: 'system', target_type: 'api_key', target_id: leakedKey.id });
      const [deleted] = await auditRows(t.services, ws.id, 'api_key.deleted');
      expect(deleted).toMatchObject({ actor_type: 'system', target_id: leakedKey.id });
      expect(await outboxRows(t.services, ws.id, 'api_key.leaked')).toHaveLength(1);
    });

    it('treats an old secret still in its rotation grace period as live, and one past it as dead', async () => {
      const { ws, key, token } = await setup();
      const rotate = () =>
        t.app.inject({
          method: 'POST',
          url: `/v1/tokens/${token.id}/rotate`,
          headers: bearer(key.key),
          payload: { grace_period_seconds: 60 },
        });
      const first = json(await rotate());
      t.clock.advance(61_000);
      expectReceived(await report({ token: token.token })); // retired a second ago
      expect(await auditRows(t.services, ws.id, 'token.leaked')).toHaveLength(0);
      await rotate();
      expectReceived(await report({ token: first.token })); // still within its grace
      expect(await auditRows(t.services, ws.id, 'token.leaked')).toHaveLength(1);
      expect(await verify(key.key, first.token)).toBe('REVOKED');
    });

    it('acts once when the same secret is reported twice or again later', async () => {
      const { ws, token } = await setup();
      expectReceived(await report([{ token: token.token }, { token: token.token }]));
      expectReceived(await report({ token: token.token }));
      expect(await auditRows(t.services, ws.id, 'token.leaked')).toHaveLength(1);
      expect(await auditRows(t.services, ws.id, 'token.revoked')).toHaveLength(1);
    });
  });

  describe('under the notify policy', () => {
    it('records and announces the leak but leaves the token and the key working', async () => {
      const { ws, key, token } = await setup('notify');
      expectReceived(await report([{ token: token.token }, { token: key.key }]));
      expect(await verify(key.key, token.token)).toBe('VALID');
      expect(await callWith(key.key, '/v1/settings')).toBe(200);
      expect(await auditRows(t.services, ws.id, 'token.leaked')).toHaveLength(1);
      expect(await auditRows(t.services, ws.id, 'api_key.leaked')).toHaveLength(1);
      expect(await auditRows(t.services, ws.id, 'token.revoked')).toHaveLength(0);
      expect(await auditRows(t.services, ws.id, 'api_key.deleted')).toHaveLength(0);
      expect(await outboxRows(t.services, ws.id, 'token.leaked')).toHaveLength(1);
      expect(await outboxRows(t.services, ws.id, 'api_key.leaked')).toHaveLength(1);
    });

    it("follows each workspace's own policy when one report holds secrets of both", async () => {
      const notify = await setup('notify');
      const revoke = await setup('revoke');
      expectReceived(await report([{ token: notify.token.token }, { token: revoke.token.token }]));
      expect(await verify(notify.key.key, notify.token.token)).toBe('VALID');
      expect(await verify(revoke.key.key, revoke.token.token)).toBe('REVOKED');
    });
  });

  describe('secrets that are not live', () => {
    it('records nothing for a revoked, an expired or a rotated-out token, or a deleted key', async () => {
      const { ws, key, session, token } = await setup();
      const post = (url: string, payload: Json) =>
        t.app.inject({ method: 'POST', url, headers: bearer(key.key), payload });
      const expiring = json(
        await post('/v1/tokens', {
          name: 'short',
          scopes: ['tokens:read'],
          expires_at: new Date(t.clock.now() + 60_000).toISOString(),
        }),
      );
      const rotated = json(await post('/v1/tokens', { name: 'rotated', scopes: ['tokens:read'] }));
      expect((await post(`/v1/tokens/${rotated.id}/rotate`, {})).statusCode).toBe(200);
      const revoked = json(await post('/v1/tokens', { name: 'revoked', scopes: ['tokens:read'] }));
      await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${revoked.id}`, headers: bearer(key.key) });
      const gone = json(
        await t.app.inject({
          method: 'POST',
          url: `/v1/workspaces/${ws.slug}/api-keys`,
          headers: session.headers,
          payload: { name: 'gone', kind: 'team' },
        }),
      );
      await t.app.inject({
        method: 'DELETE',
        url: `/v1/workspaces/${ws.slug}/api-keys/${gone.id}`,
        headers: session.headers,
      });
      t.clock.advance(61_000);
      expectReceived(
        await report([
          { token: expiring.token },
          { token: rotated.token },
          { token: revoked.token },
          { token: gone.key },
        ]),
      );
      expect(await auditRows(t.services, ws.id, 'token.leaked')).toHaveLength(0);
      expect(await auditRows(t.services, ws.id, 'api_key.leaked')).toHaveLength(0);
      expect(await verify(key.key, token.token)).toBe('VALID');
    });
  });

  describe('secrecy', () => {
    it('never writes a reported secret into audit entries, events, deliveries or logs', async () => {
      const { ws, key, token } = await setup('notify');
      const unknown = generateSecret('token');
      expectReceived(await report([{ token: token.token }, { token: key.key }, { token: unknown }]));
      const audit = await t.services.db
        .selectFrom('audit_log')
        .selectAll()
        .where('workspace_id', '=', ws.id)
        .execute();
      const events = await t.services.db
        .selectFrom('outbox_events')
        .selectAll()
        .where('workspace_id', '=', ws.id)
        .execute();
      const deliveries = await t.services.db.selectFrom('webhook_deliveries').selectAll().execute();
      const written = JSON.stringify([audit, events, deliveries, t.logs]);
      for (const secret of [token.token, key.key, unknown]) expect(written).not.toContain(secret);
      // The entries name what leaked by id.
      expect(audit.filter((e) => e.event.endsWith('.leaked')).map((e) => e.target_id)).toEqual(
        expect.arrayContaining([token.id, key.id]),
      );
    });
  });

  describe('rate limit', () => {
    it('answers 429 with Retry-After past 60 reports a minute from one address, whatever the body, and not for another address', async () => {
      const { ws, token } = await setup();
      // Start at the beginning of a minute so that the whole run falls into one window.
      t.clock.advance(60_000 - (t.clock.now() % 60_000));
      const ip = nextIp();
      for (let i = 0; i < 60; i++) expectReceived(await report({ token: generateSecret('token') }, { ip }));
      const limited = await report({ token: token.token }, { ip });
      const body = expectError(limited, 429, 'rate_limited');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(JSON.stringify(body)).not.toContain('token');
      // Past the budget nothing is looked at: the live token was not acted on.
      expect(await auditRows(t.services, ws.id, 'token.leaked')).toHaveLength(0);
      expectError(await report({}, { ip }), 429, 'rate_limited');
      expectReceived(await report({ token: token.token }));
      expect(await auditRows(t.services, ws.id, 'token.leaked')).toHaveLength(1);
      t.clock.advance(60_000);
      expectReceived(await report({ token: generateSecret('token') }, { ip }));
    });

    it('counts the addresses of one IPv6 /64 network together', async () => {
      t.clock.advance(60_000 - (t.clock.now() % 60_000));
      for (let i = 0; i < 60; i++) {
        expectReceived(await report({ token: 'x' }, { ip: `2001:db8:1:2::${(i + 1).toString(16)}` }));
      }
      expectError(await report({ token: 'x' }, { ip: '2001:db8:1:2:ffff::1' }), 429, 'rate_limited');
      expectReceived(await report({ token: 'x' }, { ip: '2001:db8:1:3::1' }));
    });
  });
});

describe.runIf(onPostgres.length > 0)('postgres: a leak reported on one node', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await createTestApp('postgres');
    b = await createTestApp('postgres', {}, { databaseUrl: a.services.config.databaseUrl });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  /** Polls until `check` holds, for at most `ms` (well under the cache TTL, so only a push can pass). */
  async function eventually(check: () => Promise<boolean>, ms: number): Promise<void> {
    const start = performance.now();
    while (performance.now() - start < ms) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`condition not met within ${ms} ms`);
  }

  it('revokes the token and deletes the key on every node', async () => {
    const { key } = await ownerWorkspace(a.app, { key: 'team' });
    const token = json(
      await a.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(key.key),
        payload: { name: 'shared', scopes: ['tokens:read'] },
      }),
    );
    const viaB = async (secret: string) =>
      (await b.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(secret) })).statusCode;
    // Both credentials are now cached on node B.
    expect(await viaB(token.token)).toBe(200);
    expect(await viaB(key.key)).toBe(200);
    const res = await a.app.inject({
      method: 'POST',
      url: '/v1/tokens/leaked',
      payload: [{ token: token.token }, { token: key.key }],
    });
    expect(res.statusCode).toBe(202);
    await eventually(async () => (await viaB(token.token)) === 401, 3000);
    await eventually(async () => (await viaB(key.key)) === 401, 3000);
  });
});
