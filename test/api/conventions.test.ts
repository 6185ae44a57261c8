import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unseal } from '../../src/auth/sealing.js';
import { loadConfig } from '../../src/config.js';
import { MAX_PAGE } from '../../src/http/schemas.js';
import { createLogger } from '../../src/logger.js';
import { startServer } from '../../src/server.js';
import {
  addMember,
  bearer,
  createApiKey,
  createTestApp,
  dialects,
  freshDatabase,
  type Json,
  json,
  ownerWorkspace,
  PASSWORD,
  type Session,
  sessionFrom,
  signup,
  type TestApp,
  uniqueEmail,
} from '../helpers.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function expectError(res: LightMyRequestResponse, status: number, error: string): Json {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = json(res);
  const requestId = res.headers['x-request-id'];
  expect(typeof requestId).toBe('string');
  expect(requestId).toMatch(REQUEST_ID);
  expect(body).toMatchObject({ error, status, request_id: requestId });
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  const allowed = ['error', 'message', 'status', 'request_id', 'details'];
  expect(Object.keys(body).filter((k) => !allowed.includes(k))).toEqual([]);
  return body;
}

/** Moves the clock to `offsetMs` past the start of the next minute, so a fresh window begins. */
function toNextMinute(t: TestApp, offsetMs = 0): void {
  const now = t.clock.now();
  t.clock.advance(60_000 - (now % 60_000) + offsetMs);
}

describe.each(dialects())('%s: API conventions', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  /** An Owner's workspace with the Owner's personal key, named `owner`. */
  const newOwner = () => ownerWorkspace(t.app, { key: { name: 'owner', kind: 'personal' } });

  describe('errors and request ids', () => {
    it('answers every error status in the same shape, with request_id equal to the X-Request-Id header', async () => {
      const { session, ws, key } = await newOwner();
      const viewer = await signup(t.app);
      await addMember(t.services, ws.id, viewer.user.id, 'viewer');

      const bad = await t.app.inject({
        method: 'POST',
        url: '/v1/api-keys',
        headers: bearer(key.key),
        payload: { name: '', kind: 'team' },
      });
      const badBody = expectError(bad, 400, 'bad_request');
      expect(badBody.details).toEqual([{ field: 'name', message: expect.any(String) }]);

      expectError(await t.app.inject({ method: 'GET', url: '/v1/api-keys' }), 401, 'unauthorized');

      const forbidden = await t.app.inject({
        method: 'PATCH',
        url: `/v1/workspaces/${ws.slug}/settings`,
        headers: viewer.headers,
        payload: { name: 'nope' },
      });
      expectError(forbidden, 403, 'forbidden');

      expectError(
        await t.app.inject({
          method: 'GET',
          url: '/v1/workspaces/no-such-workspace/settings',
          headers: session.headers,
        }),
        404,
        'not_found',
      );

      const conflict = await t.app.inject({
        method: 'POST',
        url: '/v1/api-keys',
        headers: bearer(key.key),
        payload: { name: 'OWNER', kind: 'personal' },
      });
      expectError(conflict, 409, 'conflict');
      // 413 and 429 are covered below, each in its own test.
    });

    it('answers 404 in the same shape for an unknown route', async () => {
      for (const [method, url] of [
        ['GET', '/v1/no-such-thing'],
        ['POST', '/v1/api-keys/key_x/unknown'],
        ['GET', '/nowhere'],
      ] as const) {
        const body = expectError(await t.app.inject({ method, url }), 404, 'not_found');
        expect(body.message).not.toMatch(/Route .* not found/);
      }
    });

    it('sends X-Request-Id on successful responses too, each one different', async () => {
      const { key } = await newOwner();
      const ids = new Set<string>();
      for (const url of ['/healthz', '/readyz', '/v1/settings', '/v1/api-keys']) {
        const res = await t.app.inject({ method: 'GET', url, headers: bearer(key.key) });
        expect(res.statusCode, url).toBe(200);
        const id = res.headers['x-request-id'];
        expect(id, url).toMatch(REQUEST_ID);
        ids.add(String(id));
      }
      expect(ids.size).toBe(4);
    });

    it('echoes a safe incoming X-Request-Id and replaces an unsafe one', async () => {
      const { key } = await newOwner();
      const echoed = await t.app.inject({
        method: 'GET',
        url: '/v1/settings',
        headers: { ...bearer(key.key), 'x-request-id': 'trace-1234.abc:5' },
      });
      expect(echoed.headers['x-request-id']).toBe('trace-1234.abc:5');
      const failed = await t.app.inject({
        method: 'GET',
        url: '/v1/settings',
        headers: { 'x-request-id': 'upstream-42' },
      });
      expect(failed.headers['x-request-id']).toBe('upstream-42');
      expect(json(failed).request_id).toBe('upstream-42');

      for (const unsafe of ['has space', 'x'.repeat(129), '<script>', 'a\u00e9b']) {
        const res = await t.app.inject({
          method: 'GET',
          url: '/healthz',
          headers: { 'x-request-id': unsafe },
        });
        expect(res.statusCode).toBe(200);
        expect(res.headers['x-request-id']).not.toBe(unsafe);
        expect(res.headers['x-request-id']).toMatch(REQUEST_ID);
      }
    });

    it('answers 413 payload_too_large for a body over 1 MiB', async () => {
      const { key } = await newOwner();
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/api-keys',
        headers: { ...bearer(key.key), 'content-type': 'application/json' },
        payload: JSON.stringify({ name: 'x'.repeat(1024 * 1024), kind: 'team' }),
      });
      expectError(res, 413, 'payload_too_large');
      // Just under the limit is read, then rejected by the schema (name too long).
      const under = await t.app.inject({
        method: 'POST',
        url: '/v1/api-keys',
        headers: { ...bearer(key.key), 'content-type': 'application/json' },
        payload: JSON.stringify({ name: 'x'.repeat(1024 * 1024 - 100), kind: 'team' }),
      });
      expectError(under, 400, 'bad_request');
    });

    it('answers 400 for a body that is not valid JSON or not JSON at all', async () => {
      const { key } = await newOwner();
      const post = (payload: string, contentType: string) =>
        t.app.inject({
          method: 'POST',
          url: '/v1/api-keys',
          headers: { ...bearer(key.key), 'content-type': contentType },
          payload,
        });
      expectError(await post('{"name": "a", "kind": ', 'application/json'), 400, 'bad_request');
      expectError(await post('', 'application/json'), 400, 'bad_request');
      expectError(await post('name=a&kind=team', 'application/x-www-form-urlencoded'), 400, 'bad_request');
      expectError(await post('[1, 2]', 'application/json'), 400, 'bad_request');
      const listed = await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(key.key) });
      expect(json(listed).meta.total).toBe(1);
    });

    it('answers 400 in our shape for a path with a malformed escape', async () => {
      const { key } = await newOwner();
      for (const url of ['/v1/api-keys/%ff', '/v1/%ff', '/v1/workspaces/%ff/settings']) {
        const from = t.logs.length;
        const res = await t.app.inject({ method: 'GET', url, headers: bearer(key.key) });
        expectError(res, 400, 'bad_request');
        // Answered before routing, it is still logged once like any request.
        const lines = t.logs.slice(from).map((line) => JSON.parse(line) as Json);
        expect(lines.filter((l) => l.msg === 'request')).toEqual([
          expect.objectContaining({ method: 'GET', status: 400, request_id: res.headers['x-request-id'] }),
        ]);
      }
    });
    it('answers 400, never 500, for a NUL character in the path, the query or the body', async () => {
      const { session, ws, key } = await newOwner();
      const asKey = { ...bearer(key.key) };
      const cases: InjectOptions[] = [
        { method: 'GET', url: '/v1/tokens/tok_%00', headers: asKey },
        { method: 'GET', url: '/v1/tokens?name=%00', headers: asKey },
        { method: 'GET', url: '/v1/audit-logs?actor_id=a%00', headers: asKey },
        { method: 'DELETE', url: '/v1/api-keys/%00', headers: asKey },
        { method: 'GET', url: '/v1/workspaces/a%00b/tokens', headers: session.headers },
        {
          method: 'POST',
          url: '/v1/tokens',
          headers: asKey,
          payload: { name: 'a\u0000b', scopes: ['tokens:read'] },
        },
        {
          method: 'POST',
          url: '/v1/auth/login',
          payload: { email: 'a\u0000@example.com', password: PASSWORD },
        },
      ];
      for (const options of cases) {
        expectError(await t.app.inject(options), 400, 'bad_request');
      }
      // The workspace is untouched.
      const listed = await t.app.inject({
        method: 'GET',
        url: `/v1/workspaces/${ws.slug}/tokens`,
        headers: session.headers,
      });
      expect(json(listed).meta.total).toBe(0);
    });

    it('answers 400 for text that is not well-formed Unicode (a lone surrogate) anywhere in a body or query', async () => {
      const { session, ws, key } = await newOwner();
      // Raw JSON, so that `\ud800` reaches the server as a lone surrogate escape.
      const raw = (method: 'POST' | 'PATCH', url: string, payload: string, headers = bearer(key.key)) => ({
        method,
        url,
        headers: { ...headers, 'content-type': 'application/json' },
        payload,
      });
      const cases: [InjectOptions, string][] = [
        [raw('POST', '/v1/api-keys', '{"name":"x\\ud800","kind":"personal"}'), 'name'],
        [raw('POST', '/v1/tokens', '{"name":"\\udc00t","scopes":["tokens:read"]}'), 'name'],
        [
          raw(
            'POST',
            '/v1/tokens',
            '{"name":"t","scopes":["tokens:read"],"metadata":{"k":["ok","\\udfff"]}}',
          ),
          'metadata.k[1]',
        ],
        // A lone surrogate in a key: the field named is the object holding it.
        [
          raw('POST', '/v1/tokens', '{"name":"t","scopes":["tokens:read"],"metadata":{"\\ud83d":1}}'),
          'metadata',
        ],
        [raw('PATCH', '/v1/settings', '{"name":"Acme \\ud800"}'), 'name'],
        [raw('POST', '/v1/workspaces', '{"name":"Acme \\ud800"}', session.headers), 'name'],
        [
          raw('POST', '/v1/auth/login', `{"email":"a@example.com","password":"${PASSWORD}\\ud800"}`, {}),
          'password',
        ],
      ];
      for (const [options, field] of cases) {
        const body = expectError(await t.app.inject(options), 400, 'bad_request');
        expect(body.details, String(options.payload)).toEqual([{ field, message: expect.any(String) }]);
      }
      // In a query string, a lone surrogate can only come as the UTF-8-like bytes of one, which are
      // no valid percent-encoding of text: refused like any malformed escape, as in the path.
      for (const url of [
        '/v1/tokens?name=%ED%A0%80',
        '/v1/audit-logs?actor_id=%ED%BF%BF',
        '/v1/tokens?name=%FF',
        '/v1/tokens?name=%C0%80',
        '/v1/tokens/tok_%ED%A0%80',
      ]) {
        expectError(await t.app.inject({ method: 'GET', url, headers: bearer(key.key) }), 400, 'bad_request');
      }
      // Nothing was created or renamed.
      const settings = await t.app.inject({ method: 'GET', url: '/v1/settings', headers: bearer(key.key) });
      expect(json(settings).name).toBe(ws.name);
      const tokens = await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(key.key) });
      expect(json(tokens).meta.total).toBe(0);

      // Well-formed text beyond the Basic Multilingual Plane is fine, escaped or not, in the body and the query.
      const created = await t.app.inject(
        raw('POST', '/v1/tokens', '{"name":"rocket \\ud83d\\ude80 🚀","scopes":["tokens:read"]}'),
      );
      expect(created.statusCode, created.body).toBe(201);
      expect(json(created).name).toBe('rocket 🚀 🚀');
      const found = await t.app.inject({
        method: 'GET',
        url: `/v1/tokens?name=${encodeURIComponent('🚀 🚀')}`,
        headers: bearer(key.key),
      });
      expect(json(found).data.map((tk: Json) => tk.id)).toEqual([json(created).id]);
    });
  });

  describe('lists', () => {
    it('answers 400 with details for a page or per_page out of range or not a number', async () => {
      const { key } = await newOwner();
      const cases: [string, string][] = [
        ['page=0', 'page'],
        ['page=-1', 'page'],
        ['page=abc', 'page'],
        ['page=1.5', 'page'],
        ['per_page=0', 'per_page'],
        ['per_page=101', 'per_page'],
        ['per_page=ten', 'per_page'],
        ['page=99999999999999999999', 'page'],
        ['page=1e20', 'page'],
        ['sort=name', 'sort'],
      ];
      for (const [query, field] of cases) {
        const res = await t.app.inject({
          method: 'GET',
          url: `/v1/api-keys?${query}`,
          headers: bearer(key.key),
        });
        const body = expectError(res, 400, 'bad_request');
        expect(body.details, query).toEqual([{ field, message: expect.any(String) }]);
      }
      for (const query of [
        'page=1&per_page=1',
        'per_page=100',
        'page=9999',
        `page=${MAX_PAGE}&per_page=100`,
      ]) {
        const res = await t.app.inject({
          method: 'GET',
          url: `/v1/api-keys?${query}`,
          headers: bearer(key.key),
        });
        expect(res.statusCode, query).toBe(200);
      }
    });

    it('answers newest first, pages them, and gives an empty page past the end with the total', async () => {
      const { session, ws, key } = await newOwner();
      const ids = [key.id];
      for (let i = 0; i < 4; i++) {
        t.clock.advance(1000);
        ids.push((await createApiKey(t.app, session, ws.slug, { name: `k${i}`, kind: 'team' })).id);
      }
      const newestFirst = [...ids].reverse();
      const get = async (query: string) =>
        json(await t.app.inject({ method: 'GET', url: `/v1/api-keys${query}`, headers: bearer(key.key) }));
      expect(await get('')).toMatchObject({ meta: { page: 1, per_page: 25, total: 5 } });
      expect((await get('')).data.map((k: Json) => k.id)).toEqual(newestFirst);
      const pages = [
        await get('?per_page=2'),
        await get('?page=2&per_page=2'),
        await get('?page=3&per_page=2'),
      ];
      expect(pages.flatMap((p) => p.data.map((k: Json) => k.id))).toEqual(newestFirst);
      expect(pages.map((p) => p.meta)).toEqual([
        { page: 1, per_page: 2, total: 5 },
        { page: 2, per_page: 2, total: 5 },
        { page: 3, per_page: 2, total: 5 },
      ]);
      expect(await get('?page=4&per_page=2')).toEqual({ data: [], meta: { page: 4, per_page: 2, total: 5 } });
      expect(await get('?page=50')).toEqual({ data: [], meta: { page: 50, per_page: 25, total: 5 } });
    });
  });

  describe('Idempotency-Key', () => {
    const createWith = (
      headers: Record<string, string>,
      idempotencyKey: string,
      payload: Json,
      url = '/v1/api-keys',
    ) =>
      t.app.inject({
        method: 'POST',
        url,
        headers: { ...headers, 'idempotency-key': idempotencyKey },
        payload,
      });
    const countKeys = async (workspaceId: string) =>
      (
        await t.services.db
          .selectFrom('api_keys')
          .select('id')
          .where('workspace_id', '=', workspaceId)
          .execute()
      ).length;

    it('replays the first response, secret included, and creates only one key', async () => {
      const { ws, key } = await newOwner();
      const payload = { name: 'deploy', kind: 'team' };
      const first = await createWith(bearer(key.key), 'create-deploy-1', payload);
      expect(first.statusCode, first.body).toBe(201);
      t.clock.advance(60_000);
      const second = await createWith(bearer(key.key), 'create-deploy-1', { kind: 'team', name: 'deploy' });
      expect(second.statusCode).toBe(201);
      expect(json(second)).toEqual(json(first));
      expect(json(second).key).toMatch(/^tok_live_[0-9A-Za-z]{20}$/);
      expect(await countKeys(ws.id)).toBe(2);
      // The replayed secret is the live one.
      const settings = await t.app.inject({
        method: 'GET',
        url: '/v1/settings',
        headers: bearer(json(second).key),
      });
      expect(settings.statusCode).toBe(200);
    });

    it('replays an error response with its status and body, under the new request’s id', async () => {
      const { session, ws, key } = await newOwner();
      const taken = await createApiKey(t.app, session, ws.slug, { name: 'taken', kind: 'team' });
      const first = await createWith(bearer(key.key), 'dup-name', { name: 'TAKEN', kind: 'team' });
      const original = expectError(first, 409, 'conflict');
      // Freeing the name does not change the outcome: the first answer is replayed.
      const freed = await t.app.inject({
        method: 'DELETE',
        url: `/v1/api-keys/${taken.id}`,
        headers: bearer(key.key),
      });
      expect(freed.statusCode).toBe(204);
      const replay = await createWith(bearer(key.key), 'dup-name', { name: 'TAKEN', kind: 'team' });
      const replayed = expectError(replay, 409, 'conflict');
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replayed.request_id).not.toBe(original.request_id);
      expect({ ...replayed, request_id: original.request_id }).toEqual(original);
    });

    it('answers 409 when the same key comes with a different body or path', async () => {
      const { ws, key } = await newOwner();
      expect((await createWith(bearer(key.key), 'same-key', { name: 'one', kind: 'team' })).statusCode).toBe(
        201,
      );
      const otherBody = await createWith(bearer(key.key), 'same-key', { name: 'two', kind: 'team' });
      expectError(otherBody, 409, 'conflict');
      const otherPath = await createWith(
        bearer(key.key),
        'same-key',
        {},
        `/v1/api-keys/${key.id}/regenerate`,
      );
      expectError(otherPath, 409, 'conflict');
      expect(await countKeys(ws.id)).toBe(2);
      // The key was not regenerated.
      const still = await t.app.inject({ method: 'GET', url: '/v1/settings', headers: bearer(key.key) });
      expect(still.statusCode).toBe(200);
    });

    it('keeps each caller’s keys independent: another API key gets its own fresh result', async () => {
      const { session, ws, key } = await newOwner();
      const other = await createApiKey(t.app, session, ws.slug, { name: 'second', kind: 'personal' });
      const a = await createWith(bearer(key.key), 'shared-key', { name: 'from-a', kind: 'team' });
      expect(a.statusCode).toBe(201);
      const b = await createWith(bearer(other.key), 'shared-key', { name: 'from-b', kind: 'team' });
      expect(b.statusCode, b.body).toBe(201);
      expect(json(b).id).not.toBe(json(a).id);
      expect(json(b).key).not.toBe(json(a).key);
      expect(json(b).name).toBe('from-b');
      // Even with the very same body the other caller does not see the first caller's secret.
      const c = await createWith(bearer(other.key), 'shared-key-2', { name: 'same', kind: 'team' });
      const d = await createWith(bearer(key.key), 'shared-key-2', { name: 'same', kind: 'team' });
      expect(c.statusCode).toBe(201);
      expectError(d, 409, 'conflict');
      expect(JSON.stringify(json(d))).not.toContain(json(c).key);
      // A dashboard session is a caller of its own as well.
      const e = await createWith(
        session.headers,
        'shared-key',
        { name: 'from-a', kind: 'team' },
        `/v1/workspaces/${ws.slug}/api-keys`,
      );
      expectError(e, 409, 'conflict');
      expect(JSON.stringify(json(e))).not.toContain(json(a).key);
    });

    it('stores the replayable response without the secret in clear', async () => {
      const { key } = await newOwner();
      const res = await createWith(bearer(key.key), 'sealed-1', { name: 'sealed', kind: 'team' });
      const secret = json(res).key as string;
      const rows = await t.services.db
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('key', '=', 'sealed-1')
        .execute();
      expect(rows).toHaveLength(1);
      const text = JSON.stringify(rows);
      expect(text).not.toContain(secret.slice('tok_live_'.length));
      expect(text).not.toContain(key.key.slice('tok_live_'.length));
      expect(text).not.toContain(Buffer.from(secret).toString('base64'));
      expect(text).not.toContain(json(res).id);
    });

    it('forgets a key after 24 hours', async () => {
      const { ws, key } = await newOwner();
      expect((await createWith(bearer(key.key), 'day-old', { name: 'first', kind: 'team' })).statusCode).toBe(
        201,
      );
      t.clock.advance(24 * 60 * 60 * 1000 - 1);
      expectError(
        await createWith(bearer(key.key), 'day-old', { name: 'second', kind: 'team' }),
        409,
        'conflict',
      );
      t.clock.advance(1);
      const later = await createWith(bearer(key.key), 'day-old', { name: 'second', kind: 'team' });
      expect(later.statusCode, later.body).toBe(201);
      expect(json(later).name).toBe('second');
      expect(await countKeys(ws.id)).toBe(3);
    });

    it('answers 400, not 500, for a deeply nested body sent with an Idempotency-Key', async () => {
      const { key } = await newOwner();
      const depth = 100_000;
      const metadata = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: { ...bearer(key.key), 'content-type': 'application/json', 'idempotency-key': 'deep-1' },
        payload: `{"name":"deep","scopes":["tokens:read"],"metadata":${metadata}}`,
      });
      expectError(res, 400, 'bad_request');
    });

    it('answers 400 for an Idempotency-Key that is not printable ASCII of at most 255 characters', async () => {
      const { ws, key } = await newOwner();
      const res = await createWith(bearer(key.key), 'k'.repeat(256), { name: 'long', kind: 'team' });
      expectError(res, 400, 'bad_request');
      expect(await countKeys(ws.id)).toBe(1);
    });
  });

  describe('Idempotency-Key with dashboard sessions', () => {
    const createKey = (headers: Record<string, string>, slug: string, idempotencyKey: string) =>
      t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${slug}/api-keys`,
        headers: { ...headers, 'idempotency-key': idempotencyKey },
        payload: { name: 'ci', kind: 'team' },
      });

    it('is scoped to one session: it replays there, and neither another session of the same user nor another user sees the first answer', async () => {
      const { session: first, ws } = await ownerWorkspace(t.app);
      const login = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email: first.user.email, password: PASSWORD },
      });
      const second = sessionFrom(login);
      expect(second.cookie).not.toBe(first.cookie);

      const original = await createKey(first.headers, ws.slug, 'create-ci-key');
      expect(original.statusCode).toBe(201);
      const replay = await createKey(first.headers, ws.slug, 'create-ci-key');
      expect(replay.statusCode).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(json(replay).key).toBe(json(original).key);

      // Another session is another caller: its request runs afresh (the name is taken by now).
      const fromSecond = await createKey(second.headers, ws.slug, 'create-ci-key');
      expectError(fromSecond, 409, 'conflict');
      expect(fromSecond.headers['idempotent-replayed']).toBeUndefined();
      expect(fromSecond.body).not.toContain(json(original).key);

      const { session: other, ws: otherWs } = await ownerWorkspace(t.app);
      const theirs = await createKey(other.headers, otherWs.slug, 'create-ci-key');
      expect(theirs.statusCode).toBe(201);
      expect(theirs.headers['idempotent-replayed']).toBeUndefined();
      expect(json(theirs).key).not.toBe(json(original).key);
    });

    it('keeps a session’s replay sealed with its cookie secret: the database and the server key cannot open it', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${ws.slug}/tokens`,
        headers: { ...session.headers, 'idempotency-key': 'sealed-token' },
        payload: { name: 'sealed', scopes: ['tokens:read'] },
      });
      expect(res.statusCode, res.body).toBe(201);
      const secret = json(res).token as string;
      const row = await t.services.db
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('key', '=', 'sealed-token')
        .executeTakeFirstOrThrow();
      const sealed = row.response ?? '';
      expect(JSON.stringify(row)).not.toContain(secret.slice('tkn_'.length));

      // Everything at rest: the server key (secret.key in the data directory) and every row.
      const serverKey = t.services.serverKey;
      const userId = session.user.id;
      const sessionDigest = createHash('sha256')
        .update(session.cookie.slice('tooken_session='.length))
        .digest('hex');
      expect(
        await t.services.db
          .selectFrom('sessions')
          .select('id_digest')
          .where('id_digest', '=', sessionDigest)
          .execute(),
      ).toHaveLength(1);
      const atRest = [
        serverKey,
        createHmac('sha256', serverKey).update(`tooken-replay\n${userId}`).digest(),
        createHmac('sha256', serverKey).update(`tooken-replay\n${sessionDigest}`).digest(),
        createHash('sha256').update(`tooken-replay\n${sessionDigest}`).digest(),
        createHash('sha256').update(`tooken-replay\n${userId}`).digest(),
      ];
      for (const key of atRest) expect(() => unseal(sealed, key)).toThrow();

      // The cookie's own secret, which the server never stores, does open it.
      const cookieSecret = session.cookie.slice('tooken_session='.length);
      const opened = unseal(sealed, createHash('sha256').update(`tooken-replay\n${cookieSecret}`).digest());
      expect(JSON.parse(opened).token).toBe(secret);
      const replay = await t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${ws.slug}/tokens`,
        headers: { ...session.headers, 'idempotency-key': 'sealed-token' },
        payload: { name: 'sealed', scopes: ['tokens:read'] },
      });
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(json(replay).token).toBe(secret);
    });

    it('answers 409, not 500, when a remembered answer cannot be opened', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      expect((await createKey(session.headers, ws.slug, 'damaged')).statusCode).toBe(201);
      await t.services.db
        .updateTable('idempotency_keys')
        .set({ response: Buffer.alloc(64, 7).toString('base64') })
        .where('key', '=', 'damaged')
        .execute();
      const again = await createKey(session.headers, ws.slug, 'damaged');
      const body = expectError(again, 409, 'conflict');
      expect(body.message).toMatch(/Idempotency-Key/);
    });
  });

  describe('logs', () => {
    it('never logs a password, an API key, a session cookie or a CSRF token, and logs one line per request', async () => {
      const from = t.logs.length;
      const email = uniqueEmail('logs');
      const requests: { res: LightMyRequestResponse; route: string; workspaceId: string | null }[] = [];
      const send = async (
        opts: InjectOptions & { method: 'GET' | 'POST' | 'PATCH'; url: string },
        route: string,
        workspaceId: string | null,
      ) => {
        const res = await t.app.inject(opts);
        requests.push({ res, route, workspaceId });
        return res;
      };

      const signedUp = await send(
        { method: 'POST', url: '/v1/auth/signup', payload: { email, password: PASSWORD } },
        '/v1/auth/signup',
        null,
      );
      expect(signedUp.statusCode).toBe(201);
      const first = sessionFrom(signedUp);
      const wrong = await send(
        { method: 'POST', url: '/v1/auth/login', payload: { email, password: `${PASSWORD} but wrong` } },
        '/v1/auth/login',
        null,
      );
      expect(wrong.statusCode).toBe(401);
      const loggedIn = await send(
        { method: 'POST', url: '/v1/auth/login', payload: { email, password: PASSWORD } },
        '/v1/auth/login',
        null,
      );
      expect(loggedIn.statusCode).toBe(200);
      const session = sessionFrom(loggedIn);
      const wsRes = await send(
        { method: 'POST', url: '/v1/workspaces', headers: session.headers, payload: { name: 'Logged' } },
        '/v1/workspaces',
        null,
      );
      const ws = json(wsRes);
      const created = await send(
        {
          method: 'POST',
          url: `/v1/workspaces/${ws.slug}/api-keys`,
          headers: { ...session.headers, 'idempotency-key': 'log-1' },
          payload: { name: 'logged', kind: 'personal' },
        },
        '/v1/workspaces/:slug/api-keys',
        ws.id,
      );
      const key = json(created);
      const used = await send(
        { method: 'GET', url: '/v1/settings', headers: bearer(key.key) },
        '/v1/settings',
        ws.id,
      );
      expect(used.statusCode).toBe(200);
      const regenerated = await send(
        { method: 'POST', url: `/v1/api-keys/${key.id}/regenerate`, headers: bearer(key.key) },
        '/v1/api-keys/:id/regenerate',
        ws.id,
      );
      const fresh = json(regenerated).key as string;
      const stale = await send(
        { method: 'GET', url: '/v1/api-keys', headers: bearer(key.key) },
        '/v1/api-keys',
        null,
      );
      expect(stale.statusCode).toBe(401);
      const team = await send(
        {
          method: 'POST',
          url: '/v1/api-keys',
          headers: bearer(fresh),
          payload: { name: 'team', kind: 'team', role: 'viewer' },
        },
        '/v1/api-keys',
        ws.id,
      );
      const teamKey = json(team).key as string;
      const denied = await send(
        { method: 'PATCH', url: '/v1/settings', headers: bearer(teamKey), payload: { name: 'x' } },
        '/v1/settings',
        ws.id,
      );
      expect(denied.statusCode).toBe(403);
      await send(
        { method: 'POST', url: '/v1/auth/logout', headers: session.headers },
        '/v1/auth/logout',
        null,
      );

      const lines = t.logs.slice(from).join('');
      const secrets = {
        password: PASSWORD,
        'first session cookie': first.cookie.split('=')[1] ?? '',
        'login session cookie': session.cookie.split('=')[1] ?? '',
        'first csrf token': first.csrf,
        'login csrf token': session.csrf,
        'api key': key.key.slice('tok_live_'.length),
        'regenerated api key': fresh.slice('tok_live_'.length),
        'team api key': teamKey.slice('tok_live_'.length),
      };
      for (const [what, secret] of Object.entries(secrets)) {
        expect(secret.length, what).toBeGreaterThan(10);
        expect(lines.includes(secret), `a log line contains the ${what}`).toBe(false);
      }
      expect(lines).not.toMatch(/authorization|cookie|x-csrf-token/i);

      const parsed = t.logs.slice(from).map((line) => JSON.parse(line) as Json);
      for (const { res, route, workspaceId } of requests) {
        const id = res.headers['x-request-id'];
        const mine = parsed.filter((l) => l.request_id === id || l.reqId === id);
        expect(mine, `${route} ${res.statusCode}`).toHaveLength(1);
        expect(mine[0]).toMatchObject({
          method: res.raw.req.method,
          route,
          status: res.statusCode,
          request_id: id,
          workspace_id: workspaceId,
        });
        expect(typeof mine[0]?.duration_ms).toBe('number');
      }
    });
  });

  describe('the walk-through of the README', () => {
    it('signs up, creates a workspace and an API key, and calls the API with it', async () => {
      const { ws, key } = await ownerWorkspace(t.app, { name: 'Acme Production', key: 'team' });
      expect(ws.slug).toBe('acme-production');
      expect(key.key).toMatch(/^tok_live_/);
      const res = await t.app.inject({ method: 'GET', url: '/v1/settings', headers: bearer(key.key) });
      expect(res.statusCode).toBe(200);
      expect(json(res)).toMatchObject({
        id: ws.id,
        slug: 'acme-production',
        timezone: 'UTC',
        default_token_expiration_days: 90,
      });
      expect(res.headers['x-ratelimit-limit']).toBe('1000');
    });
  });

  describe('documents and probes', () => {
    it('serves an OpenAPI 3.1 document with the API keys and settings paths', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
      expect(res.statusCode).toBe(200);
      const doc = json(res);
      expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
      for (const path of [
        '/v1/api-keys',
        '/v1/settings',
        '/v1/workspaces/{slug}/api-keys',
        '/v1/api-keys/{id}',
      ]) {
        expect(Object.keys(doc.paths), path).toContain(path);
      }
      expect(Object.keys(doc.paths['/v1/api-keys'])).toEqual(expect.arrayContaining(['get', 'post']));
    });

    it('renders the docs page as HTML', async () => {
      let res = await t.app.inject({ method: 'GET', url: '/docs' });
      for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && hops < 3; hops++) {
        const location = String(res.headers.location);
        res = await t.app.inject({ method: 'GET', url: new URL(location, 'http://localhost/docs').pathname });
      }
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toMatch(/<html/i);
    });

    it('answers 200 on /healthz and /readyz', async () => {
      expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    });
  });
});

describe.each(dialects())('%s: rate limits', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_RATE_LIMIT_PER_MINUTE: '3' });
  });
  afterAll(() => t.close());

  const settingsOf = (session: Session, ws: Json) =>
    t.app.inject({ method: 'GET', url: `/v1/workspaces/${ws.slug}/settings`, headers: session.headers });

  it('reports the budget on every authenticated workspace response and answers 429 past it', async () => {
    const { session, ws } = await ownerWorkspace(t.app);
    toNextMinute(t, 15_000);
    const windowEnd = Math.ceil((t.clock.now() + 45_000) / 1000);
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await settingsOf(session, ws);
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBe('3');
      expect(res.headers['x-ratelimit-reset']).toBe(String(windowEnd));
      remaining.push(String(res.headers['x-ratelimit-remaining']));
    }
    expect(remaining).toEqual(['2', '1', '0']);
    t.clock.advance(5_000);
    const limited = await settingsOf(session, ws);
    const body = expectError(limited, 429, 'rate_limited');
    expect(body.message).toBeTruthy();
    expect(limited.headers['retry-after']).toBe('40');
    expect(limited.headers['x-ratelimit-limit']).toBe('3');
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    expect(limited.headers['x-ratelimit-reset']).toBe(String(windowEnd));
  });

  it('counts bearer calls and denied calls against the same workspace budget', async () => {
    const { session, ws } = await ownerWorkspace(t.app);
    const team = await createApiKey(t.app, session, ws.slug, {
      name: 'viewer',
      kind: 'team',
      role: 'viewer',
    });
    toNextMinute(t);
    const denied = await t.app.inject({
      method: 'PATCH',
      url: '/v1/settings',
      headers: bearer(team.key),
      payload: { name: 'nope' },
    });
    expectError(denied, 403, 'forbidden');
    expect(denied.headers['x-ratelimit-remaining']).toBe('2');
    const listed = await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(team.key) });
    expect(listed.statusCode).toBe(200);
    expect(listed.headers['x-ratelimit-remaining']).toBe('1');
    expect((await settingsOf(session, ws)).headers['x-ratelimit-remaining']).toBe('0');
    const limited = await t.app.inject({ method: 'GET', url: '/v1/settings', headers: bearer(team.key) });
    expectError(limited, 429, 'rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('keeps budgets per workspace and starts afresh in the next minute', async () => {
    const a = await ownerWorkspace(t.app);
    const b = await ownerWorkspace(t.app);
    toNextMinute(t, 59_000);
    for (let i = 0; i < 3; i++) expect((await settingsOf(a.session, a.ws)).statusCode).toBe(200);
    const limited = await settingsOf(a.session, a.ws);
    expectError(limited, 429, 'rate_limited');
    expect(limited.headers['retry-after']).toBe('1');

    const other = await settingsOf(b.session, b.ws);
    expect(other.statusCode).toBe(200);
    expect(other.headers['x-ratelimit-remaining']).toBe('2');

    t.clock.advance(1_000);
    const next = await settingsOf(a.session, a.ws);
    expect(next.statusCode).toBe(200);
    expect(next.headers['x-ratelimit-remaining']).toBe('2');
  });

  it('does not count unauthenticated requests or session-only routes', async () => {
    const { session, ws } = await ownerWorkspace(t.app);
    toNextMinute(t);
    for (let i = 0; i < 5; i++) {
      const res = await t.app.inject({ method: 'GET', url: `/v1/workspaces/${ws.slug}/settings` });
      expect(res.statusCode).toBe(401);
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
      expect(
        (await t.app.inject({ method: 'GET', url: '/v1/me', headers: session.headers })).statusCode,
      ).toBe(200);
    }
    expect((await settingsOf(session, ws)).headers['x-ratelimit-remaining']).toBe('2');
  });

  it.runIf(dialect === 'postgres')('shares one budget between two nodes on one database', async () => {
    const database = await freshDatabase(dialect);
    const env = { TOOKEN_RATE_LIMIT_PER_MINUTE: '3' };
    const nodeA = await createTestApp(dialect, env, { databaseUrl: database.url });
    const nodeB = await createTestApp(dialect, env, { databaseUrl: database.url });
    try {
      nodeB.clock.set(nodeA.clock.now());
      const { key } = await ownerWorkspace(nodeA.app, { key: { name: 'shared', kind: 'team' } });
      toNextMinute(nodeA);
      nodeB.clock.set(nodeA.clock.now());
      const call = (node: TestApp) =>
        node.app.inject({ method: 'GET', url: '/v1/settings', headers: bearer(key.key) });
      const seen = [await call(nodeA), await call(nodeB), await call(nodeA)];
      expect(seen.map((r) => r.statusCode)).toEqual([200, 200, 200]);
      expect(seen.map((r) => r.headers['x-ratelimit-remaining'])).toEqual(['2', '1', '0']);
      expectError(await call(nodeB), 429, 'rate_limited');
      expectError(await call(nodeA), 429, 'rate_limited');
    } finally {
      await nodeA.close();
      await nodeB.close();
      await database.drop();
    }
  });
});

describe.each(dialects())('%s: the server process', (dialect) => {
  it('migrates, listens, answers health checks over HTTP and stops cleanly', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tooken-serve-'));
    const db = dialect === 'postgres' ? await freshDatabase('postgres') : null;
    const env: Record<string, string> = { TOOKEN_PORT: '0', TOOKEN_DATA_DIR: dataDir };
    if (db) env.TOOKEN_DATABASE_URL = db.url;
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk, _e, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const server = await startServer(loadConfig(env), logger);
    try {
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      const ready = await fetch(`${server.url}/readyz`);
      expect(await ready.json()).toEqual({ status: 'ready' });
      expect(lines.some((l) => l.includes('"migrations applied"'))).toBe(true);
    } finally {
      await server.stop();
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});

/** A Content-Security-Policy header as a map of directive → sources. */
function policyOf(res: LightMyRequestResponse): Record<string, string[]> {
  const header = res.headers['content-security-policy'];
  expect(typeof header, `no Content-Security-Policy on ${res.statusCode} ${res.body.slice(0, 80)}`).toBe(
    'string',
  );
  return Object.fromEntries(
    String(header)
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter(([name]) => name)
      .map(([name = '', ...sources]) => [name, sources]),
  );
}

/** What every response carries, whatever answered it. */
function expectSecurityHeaders(res: LightMyRequestResponse, label: string): void {
  expect(res.headers['x-content-type-options'], label).toBe('nosniff');
  expect(res.headers['referrer-policy'], label).toBe('no-referrer');
  expect(res.headers['x-frame-options'], label).toBe('DENY');
  expect(policyOf(res)['frame-ancestors'], label).toEqual(["'none'"]);
}

describe.each(dialects())('%s: security headers', (dialect) => {
  let t: TestApp;
  let behindProxy: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
    behindProxy = await createTestApp(dialect, { TOOKEN_TRUST_PROXY: 'true' });
  });
  afterAll(async () => {
    await behindProxy.close();
    await t.close();
  });

  it('sends nosniff, no-referrer, DENY framing and a policy that loads nothing on every kind of API answer', async () => {
    const { session, ws, key } = await ownerWorkspace(t.app, { key: 'team' });
    const cases: [string, InjectOptions, number][] = [
      ['health', { method: 'GET', url: '/healthz' }, 200],
      ['OpenAPI document', { method: 'GET', url: '/openapi.json' }, 200],
      ['a list', { method: 'GET', url: '/v1/tokens', headers: bearer(key.key) }, 200],
      [
        'a creation',
        { method: 'POST', url: '/v1/workspaces', headers: session.headers, payload: { name: 'Headers' } },
        201,
      ],
      [
        'a 204',
        { method: 'DELETE', url: `/v1/workspaces/${ws.slug}/api-keys/${key.id}`, headers: session.headers },
        204,
      ],
      ['no credential', { method: 'GET', url: '/v1/me' }, 401],
      ['unknown route', { method: 'GET', url: '/nowhere' }, 404],
      ['schema error', { method: 'POST', url: '/v1/auth/login', payload: {} }, 400],
      ['malformed escape, answered before routing', { method: 'GET', url: '/v1/%ff' }, 400],
      ['NUL in the URL', { method: 'GET', url: '/v1/tokens/%00' }, 400],
      [
        'a body over 1 MiB',
        {
          method: 'POST',
          url: '/v1/auth/login',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({ email: 'x'.repeat(1024 * 1024) }),
        },
        413,
      ],
      ['leak report', { method: 'POST', url: '/v1/tokens/leaked', payload: { token: 'x' } }, 202],
    ];
    for (const [label, options, status] of cases) {
      const res = await t.app.inject(options);
      expect(res.statusCode, `${label}: ${res.body.slice(0, 120)}`).toBe(status);
      expectSecurityHeaders(res, label);
      expect(policyOf(res)['default-src'], label).toEqual(["'none'"]);
      expect(res.headers['strict-transport-security'], label).toBeUndefined();
    }
  });

  it('sends Strict-Transport-Security only over https, as told by a trusted proxy', async () => {
    const viaHttps = { 'x-forwarded-proto': 'https' };
    const trusted = await behindProxy.app.inject({ method: 'GET', url: '/healthz', headers: viaHttps });
    expect(trusted.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    const trustedError = await behindProxy.app.inject({ method: 'GET', url: '/v1/me', headers: viaHttps });
    expect(trustedError.statusCode).toBe(401);
    expect(trustedError.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    const plain = await behindProxy.app.inject({ method: 'GET', url: '/healthz' });
    expect(plain.headers['strict-transport-security']).toBeUndefined();
    // Without a trusted proxy, a client's own X-Forwarded-Proto says nothing.
    const untrusted = await t.app.inject({ method: 'GET', url: '/healthz', headers: viaHttps });
    expect(untrusted.headers['strict-transport-security']).toBeUndefined();
  });

  it('keeps /docs working: its page, every asset it loads and the document it fetches are allowed and served', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expectSecurityHeaders(page, '/docs');
    const policy = policyOf(page);
    expect(policy['script-src']).toEqual(["'self'"]);
    expect(policy['style-src']?.[0]).toBe("'self'");
    expect(policy['style-src']).not.toContain("'unsafe-inline'");
    expect(policy['img-src']).toEqual(expect.arrayContaining(["'self'", 'data:']));
    expect(policy['connect-src'] ?? policy['default-src']).toContain("'self'");
    expect(policy['object-src']).toEqual(["'none'"]);
    // Nothing inline, which the policy would block: every script and stylesheet is a file.
    const scripts = [...page.body.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1] ?? '');
    expect(scripts.length).toBeGreaterThan(0);
    expect(scripts.every((attributes) => /\bsrc="/.test(attributes))).toBe(true);
    expect(page.body).not.toMatch(/<style\b|\sstyle="|\son[a-z]+="/i);
    const assets = [
      ...[...page.body.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)].map((m) => ({
        url: m[1] ?? '',
        type: /javascript/,
      })),
      ...[...page.body.matchAll(/<link\b[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)].map((m) => ({
        url: m[1] ?? '',
        type: /^text\/css/,
      })),
      ...[...page.body.matchAll(/<link\b[^>]*rel="icon"[^>]*href="([^"]+)"/g)].map((m) => ({
        url: m[1] ?? '',
        type: /^image\//,
      })),
    ];
    expect(assets.length).toBeGreaterThanOrEqual(5);
    for (const asset of assets) {
      const url = new URL(asset.url, 'http://localhost/docs');
      expect(url.origin, asset.url).toBe('http://localhost'); // 'self'
      const res = await t.app.inject({ method: 'GET', url: url.pathname });
      expect(res.statusCode, url.pathname).toBe(200);
      expect(res.headers['content-type'], url.pathname).toMatch(asset.type);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    // The style elements the scripts write themselves are allowed by their hashes, and only those.
    const written: string[] = [];
    for (const script of ['swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js']) {
      const code = (await t.app.inject({ method: 'GET', url: `/docs/static/${script}` })).body;
      for (const m of code.matchAll(/createElement\("style",null,"((?:[^"\\]|\\.)*)"\)/g))
        written.push(m[1] ?? '');
    }
    expect(written.length).toBeGreaterThan(0);
    expect(policy['style-src']?.slice(1).sort()).toEqual(
      written.map((css) => `'sha256-${createHash('sha256').update(css, 'utf8').digest('base64')}'`).sort(),
    );
    const initializer = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    expect(initializer.body).toContain("resolveUrl('./json')");
    const document = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(document.statusCode).toBe(200);
    expect(json(document).openapi).toMatch(/^3\.1/);
  });
});
