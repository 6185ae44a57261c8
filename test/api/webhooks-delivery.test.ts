import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createJobRunner } from '../../src/background.js';
import { WEBHOOK_EVENTS } from '../../src/events/catalog.js';
import { JobRunner } from '../../src/jobs/runner.js';
import { createExpirySweep } from '../../src/tokens/expiry.js';
import { DISABLE_AFTER_MS, RETRY_DELAYS_MS } from '../../src/webhooks/deliver.js';
import { DELIVER_JOB, FAN_OUT_JOB } from '../../src/webhooks/dispatch.js';
import { webhookJobs } from '../../src/webhooks/jobs.js';
import { SEND_TIMEOUT_MS, sendOnce } from '../../src/webhooks/send.js';
import type { Resolve } from '../../src/webhooks/url-guard.js';
import {
  bearer,
  createApiKey,
  createTestApp,
  dialects,
  freshDatabase,
  type Json,
  json,
  ownerWorkspace,
  type Session,
  type TestApp,
} from '../helpers.js';
import {
  expectedStandardSignature,
  expectedTookenSignature,
  header,
  type Received,
  type Receiver,
  sequence,
  startReceiver,
} from '../webhook-receiver.js';

const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const silent = { error: () => {}, warn: () => {}, debug: () => {}, info: () => {} };
const PRIVATE_OK = { TOOKEN_WEBHOOK_ALLOW_PRIVATE: 'true' };

/** A fake DNS the tests fill in: names not listed do not resolve. */
function fakeDns(): { resolve: Resolve; names: Map<string, string> } {
  const names = new Map<string, string>();
  return {
    names,
    resolve: async (host) => {
      const address = names.get(host);
      if (address === undefined)
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      return [{ address, family: address.includes(':') ? 6 : 4 }];
    },
  };
}

/** Runs the job runner until nothing is due. */
async function drain(runner: JobRunner): Promise<number> {
  let total = 0;
  for (let i = 0; i < 200; i++) {
    const ran = await runner.runDue();
    if (ran === 0) return total;
    total += ran;
  }
  throw new Error('the job queue did not drain');
}

/** Standard Webhooks verification with the `standardwebhooks` package, its clock set to `nowMs`. */
function verifyStandard(secret: string, request: Received, nowMs: number): unknown {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(nowMs);
  try {
    return new Webhook(secret).verify(request.body, {
      'webhook-id': header(request, 'webhook-id'),
      'webhook-timestamp': header(request, 'webhook-timestamp'),
      'webhook-signature': header(request, 'webhook-signature'),
    });
  } finally {
    vi.useRealTimers();
  }
}

/** Checks both signature schemes of one request against one secret. */
function expectSignedWith(secret: string, request: Received) {
  expect(header(request, 'x-tooken-signature')).toBe(expectedTookenSignature(secret, request.body));
  expect(header(request, 'x-tooken-signature')).toMatch(/^[0-9a-f]{64}$/);
  const signatures = header(request, 'webhook-signature').split(' ');
  expect(signatures).toContain(
    expectedStandardSignature(
      secret,
      header(request, 'webhook-id'),
      header(request, 'webhook-timestamp'),
      request.body,
    ),
  );
}

const tokenObjectKeys = [
  'id',
  'name',
  'scopes',
  'status',
  'created_at',
  'expires_at',
  'last_used_at',
  'revoked_at',
  'rotated_at',
  'created_by',
  'created_by_id',
  'metadata',
  'hint',
  'external_id',
  'limits',
].sort();

function withoutSecret(body: Json): Json {
  const { token: _token, secret: _secret, key: _key, ...rest } = body;
  return rest;
}

describe.each(dialects())('%s: webhook delivery', (dialect) => {
  let t: TestApp;
  let rx: Receiver;
  let runner: JobRunner;
  const dns = fakeDns();
  beforeAll(async () => {
    rx = await startReceiver();
    dns.names.set('receiver.test', '127.0.0.1');
    t = await createTestApp(dialect, PRIVATE_OK, { resolve: dns.resolve });
    runner = createJobRunner(t.services, silent, { nodeId: `node-${dialect}` });
  });
  afterAll(async () => {
    await t.close();
    await rx.close();
  });

  let n = 0;
  async function setup(events: string[] = ['token.created'], options: { host?: string } = {}) {
    const { session, ws, key } = await ownerWorkspace(t.app, { key: 'team' });
    const api = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', p: string, payload?: Json) =>
      t.app.inject({ method, url: `/v1${p}`, headers: bearer(key.key), ...(payload ? { payload } : {}) });
    const addHook = async (hookEvents: string[]) => {
      n += 1;
      const path = `/rx-${dialect}-${n}`;
      const res = await api('POST', '/webhooks', { url: rx.url(path, options.host), events: hookEvents });
      expect(res.statusCode, res.body).toBe(201);
      const hook = json(res);
      return {
        hook,
        path,
        received: () => rx.at(path),
        deliveries: async () =>
          json(await api('GET', `/webhooks/${hook.id}/deliveries?per_page=100`)).data as Json[],
        get: async () => json(await api('GET', `/webhooks/${hook.id}`)),
      };
    };
    const first = await addHook(events);
    const createToken = async (name = `tok-${Math.random()}`, extra: Json = {}) => {
      const res = await api('POST', '/tokens', { name, scopes: ['tokens:read'], ...extra });
      expect(res.statusCode, res.body).toBe(201);
      return json(res);
    };
    const ping = async (hookId = first.hook.id) => {
      const res = await api('POST', `/webhooks/${hookId}/test`);
      expect(res.statusCode, res.body).toBe(202);
      return json(res);
    };
    return { session, ws, key, api, addHook, createToken, ping, ...first };
  }

  describe('payload, headers and signatures', () => {
    it('sends token events as docs/webhooks.md#delivery-rules envelopes, signed both ways, with no secret anywhere', async () => {
      const { ws, key, api, hook, received, deliveries, createToken } = await setup([
        'token.created',
        'token.rotated',
        'token.revoked',
      ]);
      const created = await createToken('backend-prod', { metadata: { team: 'orders' } });
      t.clock.advance(SECOND);
      const rotated = json(await api('POST', `/tokens/${created.id}/rotate`, { grace_period_seconds: 60 }));
      t.clock.advance(SECOND);
      expect((await api('DELETE', `/tokens/${created.id}`)).statusCode).toBe(204);
      const revoked = json(await api('GET', `/tokens/${created.id}`));
      expect(received()).toEqual([]); // nothing is sent on the request path
      t.clock.advance(SECOND);
      await drain(runner);

      const got = received();
      expect(got.map((r) => header(r, 'x-tooken-event'))).toEqual([
        'token.created',
        'token.rotated',
        'token.revoked',
      ]);
      const list = await deliveries();
      const bodies = got.map((r) => JSON.parse(r.body) as Json);
      for (const [i, r] of got.entries()) {
        const body = bodies[i] as Json;
        expect(r.method).toBe('POST');
        expect(r.path).toBe(received()[0]?.path);
        expect(header(r, 'content-type')).toMatch(/^application\/json/);
        expect(Object.keys(body)).toEqual(['id', 'event', 'timestamp', 'workspace', 'data']);
        expect(body.id).toMatch(/^evt_[a-z0-9]{24}$/);
        expect(body.event).toBe(header(r, 'x-tooken-event'));
        expect(body.workspace).toEqual({ id: ws.id, slug: ws.slug });
        expect(header(r, 'webhook-id')).toBe(body.id);
        expect(header(r, 'webhook-timestamp')).toBe(String(Math.floor(t.clock.now() / 1000)));
        const delivery = list.find((d) => d.id === header(r, 'x-tooken-delivery'));
        expect(delivery).toMatchObject({
          event_id: body.id,
          event: body.event,
          status: 'succeeded',
          next_attempt_at: null,
        });
        expect(delivery?.attempts).toEqual([
          {
            at: new Date(t.clock.now()).toISOString(),
            status_code: 200,
            latency_ms: expect.any(Number),
            error: null,
            response_excerpt: 'ok',
          },
        ]);
        expectSignedWith(hook.secret, r);
        expect(header(r, 'webhook-signature').split(' ')).toHaveLength(1);
        expect(verifyStandard(hook.secret, r, t.clock.now())).toEqual(body);
        for (const secret of [created.token, rotated.token, key.key, hook.secret, hook.secret.slice(6)]) {
          expect(r.body).not.toContain(secret);
          expect(JSON.stringify(r.headers)).not.toContain(secret);
        }
        expect(r.body).not.toContain('whsec_');
        expect(Object.keys(body.data).filter((k) => !tokenObjectKeys.includes(k))).toEqual([]);
        expect(Object.keys(body.data).sort()).toEqual(tokenObjectKeys);
      }
      const [onCreate, onRotate, onRevoke] = bodies as [Json, Json, Json];
      expect(onCreate.timestamp).toBe(created.created_at);
      expect(onCreate.data).toEqual(withoutSecret(created));
      expect(onRotate.data).toEqual(withoutSecret(rotated));
      expect(onRotate.data.rotated_at).toBe(onRotate.timestamp);
      expect(onRevoke.data).toEqual(revoked);
      expect(onRevoke.data).toMatchObject({ status: 'revoked', revoked_at: onRevoke.timestamp });
      expect(new Set(bodies.map((b) => b.id)).size).toBe(3);
    });

    it('rejects a tampered body or a stale timestamp (5-minute tolerance) with the standard library', async () => {
      const { hook, received, createToken } = await setup();
      await createToken();
      await drain(runner);
      const [r] = received() as [Received];
      expect(() => verifyStandard(hook.secret, r, t.clock.now() + 4 * 60 * SECOND)).not.toThrow();
      expect(() => verifyStandard(hook.secret, r, t.clock.now() + 6 * 60 * SECOND)).toThrow(/too old/);
      expect(() =>
        verifyStandard(
          hook.secret,
          { ...r, body: r.body.replace('"tokens:read"', '"tokens:write"') },
          t.clock.now(),
        ),
      ).toThrow(/No matching signature/);
      const other = `whsec_${randomBytes(32).toString('base64')}`;
      expect(() => verifyStandard(other, r, t.clock.now())).toThrow(/No matching signature/);
      expect(header(r, 'x-tooken-signature')).not.toBe(expectedTookenSignature(other, r.body));
    });

    it('sends a ping with data {} to a host name resolved at send time, keeping the Host header', async () => {
      const { ws, hook, ping, received, deliveries } = await setup(['token.created'], {
        host: 'receiver.test',
      });
      expect(hook.url).toMatch(/^http:\/\/receiver\.test:\d+\//);
      const queued = await ping();
      await drain(runner);
      const [r] = received() as [Received];
      expect(received()).toHaveLength(1);
      expect(header(r, 'host')).toBe(`receiver.test:${rx.port}`);
      expect(header(r, 'x-tooken-event')).toBe('ping');
      expect(header(r, 'x-tooken-delivery')).toBe(queued.id);
      expect(JSON.parse(r.body)).toEqual({
        id: queued.event_id,
        event: 'ping',
        timestamp: new Date(t.clock.now()).toISOString(),
        workspace: { id: ws.id, slug: ws.slug },
        data: {},
      });
      expectSignedWith(hook.secret, r);
      expect((await deliveries())[0]).toMatchObject({ id: queued.id, status: 'succeeded' });
    });

    it('signs with both secrets for 24 h after a rotation, X-Tooken-Signature with the new one', async () => {
      const { api, hook, ping, received } = await setup();
      t.clock.advance(SECOND);
      const rotated = json(await api('POST', `/webhooks/${hook.id}/rotate-secret`));
      await ping();
      await drain(runner);
      let [r] = received() as [Received];
      expect(header(r, 'x-tooken-signature')).toBe(expectedTookenSignature(rotated.secret, r.body));
      expect(header(r, 'x-tooken-signature')).not.toBe(expectedTookenSignature(hook.secret, r.body));
      const sigOf = (secret: string, req: Received) =>
        expectedStandardSignature(
          secret,
          header(req, 'webhook-id'),
          header(req, 'webhook-timestamp'),
          req.body,
        );
      expect(header(r, 'webhook-signature')).toBe(`${sigOf(rotated.secret, r)} ${sigOf(hook.secret, r)}`);
      expect(verifyStandard(rotated.secret, r, t.clock.now())).toMatchObject({ event: 'ping' });
      expect(verifyStandard(hook.secret, r, t.clock.now())).toMatchObject({ event: 'ping' });

      t.clock.advance(24 * HOUR - 2 * SECOND); // still inside the overlap
      await ping();
      await drain(runner);
      r = received()[1] as Received;
      expect(header(r, 'webhook-signature').split(' ')).toHaveLength(2);

      t.clock.advance(2 * SECOND); // 24 h after the rotation: the old secret has stopped signing
      await ping();
      await drain(runner);
      r = received()[2] as Received;
      expect(header(r, 'webhook-signature')).toBe(sigOf(rotated.secret, r));
      expect(header(r, 'x-tooken-signature')).toBe(expectedTookenSignature(rotated.secret, r.body));
      expect(() => verifyStandard(hook.secret, r, t.clock.now())).toThrow(/No matching signature/);
    });

    it('delivers an audit event with the audit entry as data', async () => {
      const { session, ws, api, hook, received } = await setup(['api_key.created', 'webhook.updated']);
      const created = await createApiKey(t.app, session as Session, ws.slug, {
        name: 'ci',
        kind: 'team',
        role: 'viewer',
      });
      await drain(runner);
      const [r] = received() as [Received];
      expect(received()).toHaveLength(1);
      const body = JSON.parse(r.body);
      expect(body.event).toBe('api_key.created');
      const entries = json(await api('GET', '/audit-logs?event=api_key.created')).data as Json[];
      const entry = entries.find((e) => e.target.id === created.id) as Json;
      expect(body.data).toEqual(entry);
      expect(body.data).toMatchObject({
        event: 'api_key.created',
        actor: { type: 'user', id: session.user.id },
        target: { type: 'api_key', id: created.id, name: 'ci' },
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect(body.timestamp).toBe(entry.created_at);
      expect(r.body).not.toContain(created.key);
      expectSignedWith(hook.secret, r);
    });

    it('sends token.used only to endpoints that list it, batched from the usage buffer', async () => {
      const everythingElse = WEBHOOK_EVENTS.filter((e) => e !== 'token.used');
      const { api, addHook, createToken, received, hook } = await setup(['token.used']);
      const others = await addHook(everythingElse);
      const token = await createToken('used-one');
      for (let i = 0; i < 3; i++) {
        const res = await api('POST', '/tokens/verify', { token: token.token });
        expect(json(res).code).toBe('VALID');
        t.clock.advance(SECOND);
      }
      // Verify wrote nothing: no event exists until the buffer is flushed.
      const usedEvents = () =>
        t.services.db
          .selectFrom('webhook_deliveries')
          .select('id')
          .where('webhook_id', '=', hook.id)
          .execute();
      expect(await usedEvents()).toEqual([]);
      await t.services.usage.flush();
      await drain(runner);
      expect(received()).toHaveLength(1); // three uses, one flush: one event
      const [r] = received() as [Received];
      const body = JSON.parse(r.body);
      expect(body.event).toBe('token.used');
      expect(body.data).toMatchObject({
        id: token.id,
        name: 'used-one',
        status: 'active',
        last_used_at: body.data.used_at,
      });
      expect(body.data.used_at).toBe(new Date(t.clock.now() - SECOND).toISOString());
      expect(r.body).not.toContain(token.token);
      expectSignedWith(hook.secret, r);
      // The endpoint listing every other event heard of its own creation and of the token, not of its use.
      expect(
        others
          .received()
          .map((x) => header(x, 'x-tooken-event'))
          .sort(),
      ).toEqual(['token.created', 'webhook.created']);

      // A use of the token as an API credential counts too.
      const asCredential = await t.app.inject({
        method: 'GET',
        url: '/v1/tokens',
        headers: bearer(token.token),
      });
      expect(asCredential.statusCode).toBe(200);
      await t.services.usage.flush();
      await drain(runner);
      expect(received()).toHaveLength(2);
      expect(others.received()).toHaveLength(2);
    });

    it('announces token.expiring 7 d and 1 d ahead and token.expired, once each', async () => {
      const { createToken, received, hook } = await setup(['token.expiring', 'token.expired']);
      const token = await createToken('expires', {
        expires_at: new Date(t.clock.now() + 8 * DAY).toISOString(),
      });
      const sweep = createExpirySweep(t.services);
      await sweep();
      await drain(runner);
      expect(received()).toEqual([]);
      t.clock.advance(DAY + HOUR);
      await sweep();
      await sweep();
      await drain(runner);
      t.clock.advance(6 * DAY);
      await sweep();
      await drain(runner);
      t.clock.advance(DAY);
      await sweep();
      await sweep();
      await drain(runner);
      const bodies = received().map((r) => JSON.parse(r.body));
      expect(bodies.map((b) => [b.event, b.data.expires_in_days ?? null])).toEqual([
        ['token.expiring', 7],
        ['token.expiring', 1],
        ['token.expired', null],
      ]);
      for (const b of bodies) expect(b.data.id).toBe(token.id);
      expect(bodies[2].data).toMatchObject({ status: 'expired', expired_at: token.expires_at });
      expect(bodies[0].data.status).toBe('active');
      for (const r of received()) {
        expectSignedWith(hook.secret, r);
        expect(r.body).not.toContain(token.token);
      }
    });

    it('does not queue events for a disabled endpoint or one not listing them', async () => {
      const { api, hook, addHook, createToken, received } = await setup(['token.created']);
      const other = await addHook(['token.revoked']);
      expect((await api('PATCH', `/webhooks/${hook.id}`, { enabled: false })).statusCode).toBe(200);
      await createToken();
      await drain(runner);
      expect(received()).toEqual([]);
      expect(other.received()).toEqual([]);
      expect(
        await t.services.db
          .selectFrom('webhook_deliveries')
          .select('id')
          .where('webhook_id', 'in', [hook.id, other.hook.id])
          .execute(),
      ).toEqual([]);
    });
  });

  describe('retries, failure and auto-disable', () => {
    it('retries a 500 about 30 s later, records each attempt, then succeeds with the same event', async () => {
      expect(RETRY_DELAYS_MS).toEqual([30 * SECOND, 2 * 60 * SECOND, 10 * 60 * SECOND, HOUR, 6 * HOUR, DAY]);
      const { path, ping, received, deliveries, get } = await setup();
      const big = 'e'.repeat(5 * 1024);
      rx.respond(path, sequence({ status: 500, body: big }, { status: 200, body: 'thanks' }));
      const queued = await ping();
      const start = t.clock.now();
      await drain(runner);
      let [delivery] = (await deliveries()) as [Json];
      expect(delivery.status).toBe('pending');
      expect(delivery.attempts).toEqual([
        {
          at: new Date(start).toISOString(),
          status_code: 500,
          latency_ms: expect.any(Number),
          error: null,
          response_excerpt: 'e'.repeat(1024),
        },
      ]);
      expect(Buffer.byteLength(delivery.attempts[0].response_excerpt)).toBeLessThanOrEqual(1024);
      const next = Date.parse(delivery.next_attempt_at);
      expect(next - start).toBeGreaterThanOrEqual(27 * SECOND);
      expect(next - start).toBeLessThanOrEqual(33 * SECOND);
      expect((await get()).failing_since).toBe(new Date(start).toISOString());

      t.clock.set(next - 1);
      await drain(runner);
      expect(received()).toHaveLength(1); // not before its time
      t.clock.set(next);
      await drain(runner);
      expect(received()).toHaveLength(2);
      [delivery] = (await deliveries()) as [Json];
      expect(delivery).toMatchObject({ id: queued.id, status: 'succeeded', next_attempt_at: null });
      expect(delivery.attempts).toHaveLength(2);
      expect(delivery.attempts[1]).toMatchObject({
        at: new Date(next).toISOString(),
        status_code: 200,
        response_excerpt: 'thanks',
      });
      const [first, second] = received() as [Received, Received];
      expect(second.body).toBe(first.body); // the same bytes and event id on every attempt
      expect(header(second, 'webhook-id')).toBe(header(first, 'webhook-id'));
      expect(header(second, 'x-tooken-delivery')).toBe(queued.id);
      expect(header(second, 'webhook-timestamp')).toBe(String(Math.floor(next / 1000)));
      expect((await get()).failing_since).toBeNull();
    });

    it('treats a redirect as a failure and does not follow it', async () => {
      const { path, ping, received, deliveries } = await setup();
      rx.respond(path, sequence({ status: 302, headers: { location: `${path}-moved` }, body: 'moved' }));
      await ping();
      await drain(runner);
      expect(received()).toHaveLength(1);
      expect(rx.at(`${path}-moved`)).toEqual([]);
      const [delivery] = (await deliveries()) as [Json];
      expect(delivery.status).toBe('pending');
      expect(delivery.attempts[0]).toMatchObject({ status_code: 302, response_excerpt: 'moved' });
      expect(delivery.next_attempt_at).not.toBeNull();
    });

    it('walks the whole schedule (30 s, 2 min, 10 min, 1 h, 6 h, 24 h, jittered) and then marks it failed', async () => {
      const { path, ping, received, deliveries, get } = await setup();
      rx.respond(path, sequence({ status: 503, body: 'down' }));
      await ping();
      await drain(runner);
      for (const delay of RETRY_DELAYS_MS) {
        const [delivery] = (await deliveries()) as [Json];
        expect(delivery.status).toBe('pending');
        const last = Date.parse(delivery.attempts.at(-1).at);
        const wait = Date.parse(delivery.next_attempt_at) - last;
        expect(wait).toBeGreaterThanOrEqual(delay * 0.9);
        expect(wait).toBeLessThanOrEqual(delay * 1.1);
        t.clock.set(Date.parse(delivery.next_attempt_at));
        await drain(runner);
      }
      const [delivery] = (await deliveries()) as [Json];
      expect(delivery.status).toBe('failed');
      expect(delivery.next_attempt_at).toBeNull();
      expect(delivery.attempts).toHaveLength(7);
      expect(delivery.attempts.every((a: Json) => a.status_code === 503)).toBe(true);
      expect(received()).toHaveLength(7);
      t.clock.advance(2 * DAY);
      await drain(runner);
      expect(received()).toHaveLength(7);
      expect(await get()).toMatchObject({ enabled: true, failing_since: expect.any(String) });
    });

    it('disables an endpoint failing for 5 days straight, audited by the system', async () => {
      expect(DISABLE_AFTER_MS).toBe(5 * DAY);
      const { api, path, ping, hook, addHook, createToken, received, deliveries, get } = await setup();
      const watcher = await addHook(['webhook.disabled']);
      rx.respond(path, sequence({ status: 500 }));
      const start = t.clock.now();
      await ping();
      await drain(runner);
      t.clock.set(start + 4 * DAY);
      await ping();
      await drain(runner);
      expect(await get()).toMatchObject({ enabled: true, failing_since: new Date(start).toISOString() });
      t.clock.set(start + 5 * DAY);
      const last = await ping();
      await drain(runner);
      const disabled = await get();
      expect(disabled).toMatchObject({ enabled: false, failing_since: new Date(start).toISOString() });

      const entries = (json(await api('GET', '/audit-logs?event=webhook.disabled')).data as Json[]).filter(
        (e) => e.target.id === hook.id,
      );
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        actor: { type: 'system' },
        target: { type: 'webhook', id: hook.id, name: hook.url },
        changes: { enabled: { from: true, to: false } },
      });
      // webhook.disabled is an audit event, announced to the endpoints that listen for it.
      expect(watcher.received().map((r) => JSON.parse(r.body).data.id)).toEqual([entries[0]?.id]);

      // A disabled endpoint gets no new deliveries and cannot be retried until it is enabled again.
      const before = received().length;
      await createToken();
      await drain(runner);
      expect(received()).toHaveLength(before);
      const retry = await api('POST', `/webhooks/${hook.id}/deliveries/${last.id}/retry`);
      expect(retry.statusCode).toBe(409);
      expect(json(retry).error).toBe('conflict');

      // Enabled again: the failure count restarts and a manual retry is sent now.
      const enabled = json(await api('PATCH', `/webhooks/${hook.id}`, { enabled: true }));
      expect(enabled).toMatchObject({ enabled: true, failing_since: null });
      rx.respond(path, sequence({ status: 204 }));
      const again = await api('POST', `/webhooks/${hook.id}/deliveries/${last.id}/retry`);
      expect(again.statusCode).toBe(202);
      expect(json(again)).toMatchObject({
        id: last.id,
        status: 'pending',
        next_attempt_at: new Date(t.clock.now()).toISOString(),
      });
      await drain(runner);
      expect(received()).toHaveLength(before + 1);
      const settled = (await deliveries()).find((d) => d.id === last.id) as Json;
      expect(settled.status).toBe('succeeded');
      expect(settled.attempts.at(-1)).toMatchObject({
        at: new Date(t.clock.now()).toISOString(),
        status_code: 204,
      });
    });

    it('restarts the 5-day count after a success', async () => {
      const { path, ping, get } = await setup();
      const drainAndGet = async () => {
        await drain(runner);
        return get();
      };
      let ok = false;
      rx.respond(path, () => ({ status: ok ? 200 : 500 }));
      const start = t.clock.now();
      await ping();
      expect((await drainAndGet()).failing_since).toBe(new Date(start).toISOString());
      t.clock.set(start + 3 * DAY);
      ok = true;
      await ping();
      expect((await drainAndGet()).failing_since).toBeNull();
      t.clock.set(start + 5 * DAY);
      ok = false;
      await ping();
      const hook = await drainAndGet();
      expect(hook).toMatchObject({ enabled: true, failing_since: new Date(start + 5 * DAY).toISOString() });
    });

    it('retries a delivery by hand: a new attempt now, superseding the scheduled one', async () => {
      const { api, hook, path, ping, received, deliveries } = await setup();
      let ok = false;
      rx.respond(path, () => ({ status: ok ? 200 : 500 }));
      const queued = await ping();
      await drain(runner);
      const [pending] = (await deliveries()) as [Json];
      expect(pending.status).toBe('pending');
      t.clock.advance(5 * SECOND); // well before the scheduled retry
      ok = true;
      const res = await api('POST', `/webhooks/${hook.id}/deliveries/${queued.id}/retry`);
      expect(res.statusCode).toBe(202);
      await drain(runner);
      expect(received()).toHaveLength(2);
      let [delivery] = (await deliveries()) as [Json];
      expect(delivery.status).toBe('succeeded');
      expect(delivery.attempts.map((a: Json) => a.status_code)).toEqual([500, 200]);
      expect(delivery.attempts[1].at).toBe(new Date(t.clock.now()).toISOString());
      // The originally scheduled attempt does not run any more.
      t.clock.set(Date.parse(pending.next_attempt_at) + SECOND);
      await drain(runner);
      expect(received()).toHaveLength(2);
      // A succeeded delivery may be sent again on request.
      expect((await api('POST', `/webhooks/${hook.id}/deliveries/${queued.id}/retry`)).statusCode).toBe(202);
      await drain(runner);
      expect(received()).toHaveLength(3);
      [delivery] = (await deliveries()) as [Json];
      expect(delivery.attempts).toHaveLength(3);
      expect(delivery.status).toBe('succeeded');
    });

    it('gives up on a receiver that does not answer within the timeout', async () => {
      expect(SEND_TIMEOUT_MS).toBe(10_000);
      const { path } = await setup();
      rx.respond(path, sequence({ status: 200, delayMs: 2000 }));
      const result = await sendOnce(
        { url: new URL(rx.url(path)), address: '127.0.0.1', family: 4 },
        { 'x-test': '1' },
        '{}',
        { timeoutMs: 200 },
      );
      expect(result).toMatchObject({
        statusCode: null,
        excerpt: null,
        error: expect.stringMatching(/timed out/),
      });
      expect(result.latencyMs).toBeGreaterThanOrEqual(190);
      expect(result.latencyMs).toBeLessThan(2000);
      // A receiver that answers 200 at once but never finishes its body has not succeeded either.
      rx.respond(path, sequence({ status: 200, body: 'partial', stall: true }));
      const stalled = await sendOnce(
        { url: new URL(rx.url(path)), address: '127.0.0.1', family: 4 },
        {},
        '{}',
        { timeoutMs: 200 },
      );
      expect(stalled).toMatchObject({ statusCode: null, error: expect.stringMatching(/timed out/) });
    });

    it('keeps the first 1 KiB of an answer without splitting a character', async () => {
      const { path, ping, deliveries } = await setup();
      rx.respond(path, sequence({ status: 500, body: '€'.repeat(2000) }));
      await ping();
      await drain(runner);
      const [delivery] = (await deliveries()) as [Json];
      const excerpt = delivery.attempts[0].response_excerpt as string;
      expect(Buffer.byteLength(excerpt)).toBeLessThanOrEqual(1024);
      expect(excerpt).toBe('€'.repeat(341)); // 341 × 3 bytes; the 342nd character would cross 1 KiB
    });
  });
});

describe.each(dialects())('%s: the SSRF guard at send time', (dialect) => {
  let t: TestApp;
  let rx: Receiver;
  let runner: JobRunner;
  const dns = fakeDns();
  beforeAll(async () => {
    rx = await startReceiver();
    t = await createTestApp(dialect, {}, { resolve: dns.resolve });
    runner = createJobRunner(t.services, silent, { nodeId: `guard-${dialect}` });
  });
  afterAll(async () => {
    await t.close();
    await rx.close();
  });

  for (const [name, address] of [
    ['loopback', '127.0.0.1'],
    ['metadata', '169.254.169.254'],
    ['mapped', '::ffff:127.0.0.1'],
  ] as const) {
    it(`refuses to send when the name resolves to ${address} at send time, though it was public at save`, async () => {
      const host = `${name}-${dialect}.example.com`;
      dns.names.set(host, '93.184.216.34');
      const { key } = await ownerWorkspace(t.app, { key: 'team' });
      const api = (method: 'GET' | 'POST', p: string, payload?: Json) =>
        t.app.inject({ method, url: `/v1${p}`, headers: bearer(key.key), ...(payload ? { payload } : {}) });
      const created = await api('POST', '/webhooks', {
        url: `https://${host}:${rx.port}/hook`,
        events: ['token.created'],
      });
      expect(created.statusCode, created.body).toBe(201);
      const hook = json(created);
      dns.names.set(host, address); // DNS rebinding after the check at save time
      const before = rx.connections();
      expect((await api('POST', '/tokens', { name: 'x', scopes: ['tokens:read'] })).statusCode).toBe(201);
      await drain(runner);
      expect(rx.connections()).toBe(before);
      expect(rx.requests).toEqual([]);
      const [delivery] = json(await api('GET', `/webhooks/${hook.id}/deliveries`)).data as [Json];
      expect(delivery.status).toBe('pending'); // refused attempts are failures, retried on schedule
      expect(delivery.attempts).toEqual([
        {
          at: new Date(t.clock.now()).toISOString(),
          status_code: null,
          latency_ms: expect.any(Number),
          error: expect.stringContaining('not a public address'),
          response_excerpt: null,
        },
      ]);
    });
  }
});

describe.each(dialects())('%s: crash safety', (dialect) => {
  let rx: Receiver;
  beforeAll(async () => {
    rx = await startReceiver();
  });
  afterAll(() => rx.close());

  it('delivers after a restart an event whose transaction committed before the crash', async () => {
    const database = await freshDatabase(dialect);
    const env = { ...PRIVATE_OK, TOOKEN_SECRET_KEY: randomBytes(32).toString('base64') };
    try {
      const first = await createTestApp(dialect, env, { databaseUrl: database.url });
      const { key } = await ownerWorkspace(first.app, { key: 'team' });
      const hookRes = await first.app.inject({
        method: 'POST',
        url: '/v1/webhooks',
        headers: bearer(key.key),
        payload: { url: rx.url('/after-restart'), events: ['token.created'] },
      });
      const hook = json(hookRes);
      const tokenRes = await first.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(key.key),
        payload: { name: 'survivor', scopes: ['tokens:read'] },
      });
      expect(tokenRes.statusCode).toBe(201);
      const stoppedAt = first.clock.now();
      await first.close(); // gone before any job ran
      expect(rx.at('/after-restart')).toEqual([]);

      const second = await createTestApp(dialect, env, { databaseUrl: database.url });
      try {
        second.clock.set(stoppedAt + 5 * SECOND);
        await drain(createJobRunner(second.services, silent, { nodeId: 'restarted' }));
        const got = rx.at('/after-restart');
        expect(got).toHaveLength(1);
        const [r] = got as [Received];
        expect(JSON.parse(r.body)).toMatchObject({
          event: 'token.created',
          data: { id: json(tokenRes).id, name: 'survivor' },
        });
        expectSignedWith(hook.secret, r);
        await drain(createJobRunner(second.services, silent, { nodeId: 'restarted-again' }));
        expect(rx.at('/after-restart')).toHaveLength(1);
      } finally {
        await second.close();
      }
    } finally {
      await database.drop();
    }
  });
});

describe.each(dialects())('%s: a node that dies while delivering', (dialect) => {
  let t: TestApp;
  let rx: Receiver;
  beforeAll(async () => {
    rx = await startReceiver();
    t = await createTestApp(dialect, PRIVATE_OK);
  });
  afterAll(async () => {
    await t.close();
    await rx.close();
  });

  it('leaves its claimed attempt to another node once the lease lapses', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const hook = await t.app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: bearer(key.key),
      payload: { url: rx.url('/lease'), events: ['token.created'] },
    });
    expect(hook.statusCode).toBe(201);
    const token = await t.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(key.key),
      payload: { name: 'leased', scopes: ['tokens:read'] },
    });
    expect(token.statusCode).toBe(201);
    // The event becomes its delivery first, on a node that knows only that job.
    const { db, clock, audit, serverKey } = t.services;
    const fanOut = webhookJobs({ db, clock, audit, serverKey, allowPrivate: true })[FAN_OUT_JOB];
    const expander = new JobRunner({
      db,
      adapter: t.database.adapter,
      clock,
      logger: silent,
      jobs: { [FAN_OUT_JOB]: fanOut },
    });
    expect(await expander.runDue()).toBe(1);
    // Node A claims the delivery job and hangs forever (as if it crashed mid-send).
    const dying = new JobRunner({
      db: t.services.db,
      adapter: t.database.adapter,
      clock: t.clock.now,
      logger: silent,
      jobs: { [DELIVER_JOB]: { run: () => new Promise<void>(() => {}) } },
      nodeId: 'dying',
      leaseMs: 60_000,
    });
    void dying.runDue();
    const claimedByDying = async () =>
      (
        await t.services.db.selectFrom('jobs').select('locked_by').where('kind', '=', DELIVER_JOB).execute()
      ).some((j) => j.locked_by === 'dying');
    for (let i = 0; i < 100 && !(await claimedByDying()); i++) await new Promise((r) => setTimeout(r, 10));
    expect(await claimedByDying()).toBe(true);
    const healthy = createJobRunner(t.services, silent, { nodeId: 'healthy' });
    await drain(healthy);
    expect(rx.at('/lease')).toEqual([]); // still leased to the dead node
    t.clock.advance(60_001);
    await drain(healthy);
    expect(rx.at('/lease')).toHaveLength(1);
    await drain(healthy);
    expect(rx.at('/lease')).toHaveLength(1);
  });
});

describe.runIf(dialects().includes('postgres'))('postgres: two job runners on one database', () => {
  let a: TestApp;
  let b: TestApp;
  let rx: Receiver;
  beforeAll(async () => {
    rx = await startReceiver();
    const env = { ...PRIVATE_OK, TOOKEN_SECRET_KEY: randomBytes(32).toString('base64') };
    a = await createTestApp('postgres', env);
    b = await createTestApp('postgres', env, { databaseUrl: a.services.config.databaseUrl });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
    await rx.close();
  });

  it('makes each delivery attempt exactly once, first attempts and retries alike', async () => {
    const { key } = await ownerWorkspace(a.app, { key: 'team' });
    const hooks: Json[] = [];
    for (let i = 0; i < 4; i++) {
      const hookRes = await a.app.inject({
        method: 'POST',
        url: '/v1/webhooks',
        headers: bearer(key.key),
        payload: { url: rx.url('/race'), events: ['token.created'] },
      });
      expect(hookRes.statusCode).toBe(201);
      hooks.push(json(hookRes));
    }
    // The first attempt of every delivery fails; the retry succeeds. Answers are slow, so both runners overlap.
    const seen = new Map<string, number>();
    rx.respond('/race', (request) => {
      const id = header(request, 'x-tooken-delivery');
      const count = (seen.get(id) ?? 0) + 1;
      seen.set(id, count);
      return { status: count === 1 ? 500 : 200, delayMs: 15 };
    });
    const total = 24;
    for (let i = 0; i < total / hooks.length; i++) {
      const res = await a.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(key.key),
        payload: { name: `race-${i}`, scopes: ['tokens:read'] },
      });
      expect(res.statusCode).toBe(201);
    }
    const one = createJobRunner(a.services, silent, { nodeId: 'node-a' });
    const two = createJobRunner(b.services, silent, { nodeId: 'node-b' });
    const race = () => Promise.all([drain(one), drain(two)]);
    await race();
    expect(rx.at('/race')).toHaveLength(total);
    expect(new Set(rx.at('/race').map((r) => header(r, 'x-tooken-delivery'))).size).toBe(total);

    a.clock.advance(40 * SECOND);
    b.clock.advance(40 * SECOND);
    await race();
    expect(rx.at('/race')).toHaveLength(2 * total);
    expect([...seen.values()].every((count) => count === 2)).toBe(true);
    const deliveries = await a.services.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where(
        'webhook_id',
        'in',
        hooks.map((h) => h.id),
      )
      .execute();
    expect(deliveries).toHaveLength(total);
    for (const d of deliveries) {
      expect(d.status).toBe('succeeded');
      expect((JSON.parse(d.attempts) as Json[]).map((x) => x.status_code)).toEqual([500, 200]);
    }
  });
});
