import { Agent, request as httpRequest } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VerifyResponse } from '../../src/tokens/schemas.js';
import type { VerifyLane } from '../../src/tokens/verify-lane.js';
import { settleNotices } from '../faults.js';
import {
  bearer,
  createApiKey,
  createTestApp,
  dialects,
  type Json,
  json,
  ownerWorkspace,
  type Session,
  type TestApp,
} from '../helpers.js';

/**
 * The verify fast lane (src/tokens/verify-lane.ts) answers `POST …/tokens/verify` over a real
 * socket without going through Fastify's route. Every request here is sent twice: over HTTP to
 * the listening app (the lane, or the route when the lane hands it over) and through `inject`
 * (always Fastify's route). Status, headers (names, order and values) and body must be the same;
 * the lane's counters say which of the two answered over HTTP.
 */

/** PostgreSQL: until this node has heard its own notices (SQLite applies them in the transaction). */
const settle = (dialect: string, t: TestApp) =>
  dialect === 'postgres' ? settleNotices(t.services) : Promise.resolve();

interface Answer {
  status: number;
  /** Header names in order, lower case, without the ones Node adds itself. */
  names: string[];
  headers: Record<string, string>;
  body: string;
}

const NODE_HEADERS = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

function overHttp(
  port: number,
  path: string,
  headers: Record<string, string>,
  body: string,
  agent?: Agent,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        ...(agent ? { agent } : {}),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          const names: string[] = [];
          const values: Record<string, string> = {};
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            const name = (res.rawHeaders[i] as string).toLowerCase();
            if (NODE_HEADERS.has(name)) continue;
            names.push(name);
            values[name] = res.rawHeaders[i + 1] as string;
          }
          resolve({ status: res.statusCode ?? 0, names, headers: values, body: text });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe.each(dialects())('%s: the verify fast lane', (dialect) => {
  let t: TestApp;
  let port: number;
  let session: Session;
  let ws: Json;
  let key: Json;
  const lane = () => (t.app as unknown as { verifyLane: VerifyLane }).verifyLane;

  /** The same request through inject (Fastify's route). */
  async function viaRoute(path: string, headers: Record<string, string>, body: string): Promise<Answer> {
    const res = await t.app.inject({ method: 'POST', url: path, headers, payload: body });
    const names = Object.keys(res.headers).filter((name) => !NODE_HEADERS.has(name));
    const values: Record<string, string> = {};
    for (const name of names) values[name] = String(res.headers[name]);
    return { status: res.statusCode, names, headers: values, body: res.body };
  }

  /** What may differ between two answers to the same request: the request id and the budget left. */
  function comparable(answer: Answer) {
    const requestId = answer.headers['x-request-id'] ?? '';
    const headers = { ...answer.headers };
    delete headers['x-request-id'];
    delete headers['x-ratelimit-remaining'];
    return {
      status: answer.status,
      names: answer.names,
      headers,
      body: requestId === '' ? answer.body : answer.body.replaceAll(requestId, '<request id>'),
    };
  }

  /** Sends over HTTP and through the route; asserts both answered alike; returns which answered over HTTP. */
  async function both(
    path: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<{ http: Answer; route: Answer; by: 'lane' | 'route' }> {
    const before = { ...lane().counts };
    const http = await overHttp(port, path, headers, body);
    const after = lane().counts;
    const route = await viaRoute(path, headers, body);
    expect(comparable(http)).toEqual(comparable(route));
    expect(http.headers['x-request-id']).toMatch(/^req_[0-9a-z]{24}$|^[A-Za-z0-9._:-]{1,128}$/);
    const by = after.answered > before.answered ? 'lane' : 'route';
    expect(after.answered + after.handedOver).toBeGreaterThanOrEqual(before.answered + before.handedOver);
    return { http, route, by };
  }

  const jsonHeaders = (secret: string, extra: Record<string, string> = {}) => ({
    'content-type': 'application/json',
    ...bearer(secret),
    ...extra,
  });

  async function issue(payload: Json = {}): Promise<Json> {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(key.key),
      payload: { name: `lane-${Math.random().toString(36).slice(2)}`, scopes: ['orders:read'], ...payload },
    });
    expect(res.statusCode, res.body).toBe(201);
    return json(res);
  }

  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_TRUST_PROXY: '1' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as AddressInfo).port;
    ({ session, ws, key } = await ownerWorkspace(t.app, { key: 'team' }));
    const settings = await t.app.inject({
      method: 'PATCH',
      url: `/v1/workspaces/${ws.slug}/settings`,
      headers: session.headers,
      payload: { custom_scopes: ['orders:read', 'orders:write'] },
    });
    expect(settings.statusCode, settings.body).toBe(200);
    // The lane answers only from the caches: let this node hear its own notices (PostgreSQL) first,
    // so that none arrives later and empties them between a warm-up and the request under test.
    await settle(dialect, t);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers a valid token itself, byte for byte as the route does, on both paths', async () => {
    const token = await issue({ metadata: { plan: 'pro', seats: 3, nested: { a: [1, 'x', null] } } });
    const body = JSON.stringify({ token: token.token });
    const plain = await both('/v1/tokens/verify', jsonHeaders(key.key), body);
    expect(plain.by).toBe('lane');
    expect(plain.http.status).toBe(200);
    expect(JSON.parse(plain.http.body)).toMatchObject({
      valid: true,
      code: 'VALID',
      token: { id: token.id },
    });
    const slugged = await both(`/v1/workspaces/${ws.slug}/tokens/verify`, jsonHeaders(key.key), body);
    expect(slugged.by).toBe('lane');
    expect(slugged.http.headers['x-ratelimit-limit']).toBeDefined();
  });

  it('answers every refusal code itself, as the route does', async () => {
    const revoked = await issue();
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/v1/tokens/${revoked.id}`,
      headers: bearer(key.key),
    });
    expect(del.statusCode, del.body).toBe(204);
    const expiring = await issue({ expires_at: new Date(t.clock.now() + 3_600_000).toISOString() });
    const scoped = await issue({ scopes: ['orders:read'] });
    const cases: [string, Json][] = [
      ['NOT_FOUND', { token: 'tkn_not-even-close' }],
      ['NOT_FOUND', { token: '' }],
      ['REVOKED', { token: revoked.token }],
      ['INSUFFICIENT_SCOPE', { token: scoped.token, scopes: ['orders:write'] }],
      ['VALID', { token: scoped.token, scopes: ['orders:read'] }],
    ];
    for (const [code, payload] of cases) {
      const { http, by } = await both('/v1/tokens/verify', jsonHeaders(key.key), JSON.stringify(payload));
      expect(by, code).toBe('lane');
      expect(JSON.parse(http.body).code, JSON.stringify(payload)).toBe(code);
    }
    t.clock.advance(2 * 3_600_000);
    const { http } = await both(
      '/v1/tokens/verify',
      jsonHeaders(key.key),
      JSON.stringify({ token: expiring.token }),
    );
    expect(JSON.parse(http.body).code).toBe('EXPIRED');
  });

  it('answers tokens with limits of their own as the route does (remaining, ratelimit)', async () => {
    const uses = await issue({ limits: { uses: { remaining: 5 } } });
    const rate = await issue({ limits: { rate: { limit: 100, window_seconds: 60 } } });
    for (const token of [uses, rate]) {
      const http = await overHttp(
        port,
        '/v1/tokens/verify',
        jsonHeaders(key.key),
        JSON.stringify({ token: token.token }),
      );
      const route = await viaRoute(
        '/v1/tokens/verify',
        jsonHeaders(key.key),
        JSON.stringify({ token: token.token }),
      );
      // One use or one hit apart: the first answer was counted before the second.
      const a = JSON.parse(http.body);
      const b = JSON.parse(route.body);
      expect(a.code).toBe('VALID');
      if (token === uses) expect([a.remaining - 1, b.remaining]).toEqual([b.remaining, b.remaining]);
      else expect(a.ratelimit.remaining - 1).toBe(b.ratelimit.remaining);
      expect(http.names).toEqual(route.names);
    }
  });

  it('hands everything else to the route, which answers exactly as always', async () => {
    const token = await issue();
    const good = JSON.stringify({ token: token.token });
    const handedOver: [string, string, Record<string, string>, string][] = [
      [
        'unknown field',
        '/v1/tokens/verify',
        jsonHeaders(key.key),
        JSON.stringify({ token: token.token, x: 1 }),
      ],
      ['not JSON', '/v1/tokens/verify', jsonHeaders(key.key), '{"token":'],
      ['prototype poisoning', '/v1/tokens/verify', jsonHeaders(key.key), '{"token":"x","__proto__":{"a":1}}'],
      [
        'constructor poisoning',
        '/v1/tokens/verify',
        jsonHeaders(key.key),
        '{"token":"x","constructor":{"prototype":{"a":1}}}',
      ],
      ['a number for the token', '/v1/tokens/verify', jsonHeaders(key.key), '{"token":12}'],
      ['JSON null', '/v1/tokens/verify', jsonHeaders(key.key), 'null'],
      ['text/plain', '/v1/tokens/verify', { 'content-type': 'text/plain', ...bearer(key.key) }, good],
      ['no credential', '/v1/tokens/verify', { 'content-type': 'application/json' }, good],
      ['a malformed key', '/v1/tokens/verify', jsonHeaders('tok_live_nope'), good],
      ['a query string', '/v1/tokens/verify?x=1', jsonHeaders(key.key), good],
      ['another workspace slug', '/v1/workspaces/not-ours/tokens/verify', jsonHeaders(key.key), good],
      [
        'a session cookie',
        `/v1/workspaces/${ws.slug}/tokens/verify`,
        { 'content-type': 'application/json', ...session.headers },
        good,
      ],
    ];
    for (const [label, path, headers, body] of handedOver) {
      const { http, by } = await both(path, headers, body);
      expect(by, label).toBe('route');
      expect(http.status, `${label}: ${http.body}`).not.toBe(500);
    }
  });

  it('hands over a key it has not cached yet, then answers once the route has cached it', async () => {
    const fresh = await createApiKey(t.app, session, ws.slug, {
      name: `fresh-${Date.now()}`,
      kind: 'team',
      role: 'viewer',
    });
    const token = await issue();
    await settle(dialect, t);
    const body = JSON.stringify({ token: token.token });
    const first = await overHttp(port, '/v1/tokens/verify', jsonHeaders(fresh.key), body);
    expect(first.status).toBe(200);
    const { by } = await both('/v1/tokens/verify', jsonHeaders(fresh.key), body);
    expect(by).toBe('lane');
  });

  it('stops answering for a key the moment it is revoked', async () => {
    const doomed = await createApiKey(t.app, session, ws.slug, {
      name: `doomed-${Date.now()}`,
      kind: 'team',
      role: 'admin',
    });
    const token = await issue();
    await settle(dialect, t);
    const body = JSON.stringify({ token: token.token });
    await overHttp(port, '/v1/tokens/verify', jsonHeaders(doomed.key), body);
    expect((await both('/v1/tokens/verify', jsonHeaders(doomed.key), body)).by).toBe('lane');
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/v1/workspaces/${ws.slug}/api-keys/${doomed.id}`,
      headers: session.headers,
    });
    expect(del.statusCode, del.body).toBe(204);
    const after = await both('/v1/tokens/verify', jsonHeaders(doomed.key), body);
    expect(after.http.status).toBe(401);
  });

  it('keeps the keys of one kept-alive connection apart (the connection remembers only the last key)', async () => {
    const other = await ownerWorkspace(t.app, { key: 'team' });
    await settle(dialect, t);
    const ours = await issue();
    const theirs = await t.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(other.key.key),
      payload: { name: 'theirs', scopes: ['tokens:read'] },
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const answeredBefore = lane().counts.answered;
    try {
      const codes: string[] = [];
      for (const [secret, token] of [
        [key.key, ours.token],
        [other.key.key, json(theirs).token],
        [other.key.key, ours.token],
        [key.key, json(theirs).token],
        [key.key, ours.token],
      ] as const) {
        const answer = await overHttp(
          port,
          '/v1/tokens/verify',
          jsonHeaders(secret),
          JSON.stringify({ token }),
          agent,
        );
        codes.push(JSON.parse(answer.body).code);
      }
      expect(codes).toEqual(['VALID', 'VALID', 'NOT_FOUND', 'NOT_FOUND', 'VALID']);
      expect(lane().counts.answered - answeredBefore).toBe(5);
    } finally {
      agent.destroy();
    }
  });

  it('answers a body that arrives after its headers, in pieces', async () => {
    const token = await issue();
    const body = JSON.stringify({ token: token.token });
    const before = lane().counts.answered;
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    const pause = () => new Promise((resolve) => setTimeout(resolve, 30));
    socket.write(
      `POST /v1/tokens/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Authorization: Bearer ${key.key}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`,
    );
    await pause();
    socket.write(body.slice(0, 10));
    await pause();
    // Written, not ended: a client's end of the connection aborts its pending request (Node).
    socket.write(body.slice(10));
    await new Promise((resolve) => socket.once('close', resolve));
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4))).toMatchObject({ code: 'VALID' });
    expect(lane().counts.answered).toBe(before + 1);
  });

  it('ignores an Idempotency-Key as the route does, and honours an incoming X-Request-Id', async () => {
    const token = await issue();
    const body = JSON.stringify({ token: token.token });
    const headers = jsonHeaders(key.key, { 'idempotency-key': 'lane-1', 'x-request-id': 'caller-trace.42' });
    const { http, by } = await both('/v1/tokens/verify', headers, body);
    expect(by).toBe('lane');
    expect(http.headers['x-request-id']).toBe('caller-trace.42');
    const stored = await t.services.db.selectFrom('idempotency_keys').select('key').execute();
    expect(stored.map((row) => row.key)).not.toContain('lane-1');
  });

  it('writes the request line and the request metrics for what it answers', async () => {
    const token = await issue();
    await both(
      '/v1/tokens/verify',
      jsonHeaders(key.key, { 'x-request-id': 'lane-log-check' }),
      JSON.stringify({ token: token.token }),
    );
    const lines = t.logs
      .join('')
      .split('\n')
      .filter((line) => line.includes('"reqId":"lane-log-check"'));
    // One from the lane, one from the route.
    expect(lines).toHaveLength(2);
    const [viaLane, viaRouteLine] = lines.map((line) => JSON.parse(line));
    expect(Object.keys(viaLane)).toEqual(Object.keys(viaRouteLine));
    expect({ ...viaLane, time: 0, duration_ms: 0 }).toEqual({ ...viaRouteLine, time: 0, duration_ms: 0 });
    expect(viaLane).toMatchObject({ route: '/v1/tokens/verify', status: 200, workspace_id: ws.id });
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(
      /tooken_http_requests_total\{method="POST",route="\/v1\/tokens\/verify",status="200"\} \d+/,
    );
    // What the lane did, as counted for operators: the same figures as its own counters.
    const laneSample = (outcome: string) =>
      Number(
        new RegExp(`tooken_verify_lane_requests_total\\{outcome="${outcome}"\\} (\\d+)`).exec(
          metrics.body,
        )?.[1],
      );
    expect(laneSample('answered')).toBe(lane().counts.answered);
    expect(laneSample('handed_over')).toBe(lane().counts.handedOver);
    expect(lane().counts.answered).toBeGreaterThan(0);
  });

  it('adds HSTS for a request a trusted proxy says came over https, as the route does', async () => {
    const token = await issue();
    const headers = jsonHeaders(key.key, { 'x-forwarded-proto': 'http, https' });
    const { http, by } = await both('/v1/tokens/verify', headers, JSON.stringify({ token: token.token }));
    expect(by).toBe('lane');
    expect(http.headers['strict-transport-security']).toMatch(/^max-age=/);
  });
});

/**
 * Both paths write the answer with JSON.stringify (src/tokens/verify.ts): what the response
 * schema's own serializer writes for the same answer, byte for byte (same fields, same order,
 * nothing extra).
 */
async function schemaSerialized(bodies: string[]): Promise<string[]> {
  const app = Fastify();
  app.post('/', { schema: { response: { 200: VerifyResponse } } }, async (request) => request.body);
  try {
    const out: string[] = [];
    for (const body of bodies) {
      const res = await app.inject({
        method: 'POST',
        url: '/',
        headers: { 'content-type': 'application/json' },
        payload: body,
      });
      out.push(res.body);
    }
    return out;
  } finally {
    await app.close();
  }
}

describe.each(dialects())('%s: the verify answer as the schema writes it', (dialect) => {
  it('is byte for byte what fast-json-stringify writes from the response schema, for every kind of answer', async () => {
    const t = await createTestApp(dialect, { TOOKEN_VERIFY_RATE_LIMIT_PER_MINUTE: '1000' });
    try {
      const { session, ws, key } = await ownerWorkspace(t.app, { key: 'team' });
      await t.app.inject({
        method: 'PATCH',
        url: `/v1/workspaces/${ws.slug}/settings`,
        headers: session.headers,
        payload: { custom_scopes: ['orders:read', 'orders:write'] },
      });
      const issue = async (payload: Json) => {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/tokens',
          headers: bearer(key.key),
          payload: { name: `s-${Math.random().toString(36).slice(2)}`, scopes: ['orders:read'], ...payload },
        });
        expect(res.statusCode, res.body).toBe(201);
        return json(res);
      };
      const plain = await issue({ expires_at: null });
      const rich = await issue({
        metadata: { plan: 'pro', 'quote"d': 'a\\b\n', emoji: '🔑', nested: { list: [1, 2.5, null, true] } },
        external_id: 'cus_42',
        limits: { uses: { remaining: 10 }, rate: { limit: 5, window_seconds: 60 } },
      });
      const revoked = await issue({});
      await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${revoked.id}`, headers: bearer(key.key) });
      const requests: Json[] = [
        { token: plain.token },
        { token: rich.token },
        { token: rich.token, scopes: ['orders:write'] },
        { token: revoked.token },
        { token: 'tkn_nope' },
      ];
      const bodies: string[] = [];
      for (const payload of requests) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/tokens/verify',
          headers: bearer(key.key),
          payload,
        });
        expect(res.statusCode, res.body).toBe(200);
        bodies.push(res.body);
      }
      expect(bodies.map((body) => JSON.parse(body).code)).toEqual([
        'VALID',
        'VALID',
        'INSUFFICIENT_SCOPE',
        'REVOKED',
        'NOT_FOUND',
      ]);
      expect(await schemaSerialized(bodies)).toEqual(bodies);
    } finally {
      await t.close();
    }
  });
});

describe.each(dialects())('%s: the verify fast lane, switched off or out of budget', (dialect) => {
  it('is absent when TOOKEN_VERIFY_FAST_LANE=false', async () => {
    const t = await createTestApp(dialect, { TOOKEN_VERIFY_FAST_LANE: 'false' });
    try {
      expect((t.app as unknown as { verifyLane?: VerifyLane }).verifyLane).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('answers RATE_LIMITED with Retry-After once the workspace budget is spent, as the route does', async () => {
    const t = await createTestApp(dialect, { TOOKEN_VERIFY_RATE_LIMIT_PER_MINUTE: '2' });
    try {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (t.app.server.address() as AddressInfo).port;
      const { key } = await ownerWorkspace(t.app, { key: 'team' });
      await settle(dialect, t);
      const headers = { 'content-type': 'application/json', ...bearer(key.key) };
      const issued = await t.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(key.key),
        payload: { name: 'budget', scopes: ['tokens:read'] },
      });
      // NOT_FOUND is answered ahead of RATE_LIMITED (docs/tokens.md#verify): a real token.
      const body = JSON.stringify({ token: json(issued).token });
      const answers: Answer[] = [];
      for (let i = 0; i < 3; i++) answers.push(await overHttp(port, '/v1/tokens/verify', headers, body));
      const route = await t.app.inject({ method: 'POST', url: '/v1/tokens/verify', headers, payload: body });
      const last = answers[2] as Answer;
      expect(JSON.parse(last.body).code).toBe('RATE_LIMITED');
      expect(last.headers['retry-after']).toBeDefined();
      expect(json(route).code).toBe('RATE_LIMITED');
      expect(Object.keys(route.headers).filter((name) => !NODE_HEADERS.has(name))).toEqual(last.names);
      const lane = (t.app as unknown as { verifyLane: VerifyLane }).verifyLane;
      expect(lane.counts.answered).toBeGreaterThanOrEqual(2);
    } finally {
      await t.close();
    }
  });
});
