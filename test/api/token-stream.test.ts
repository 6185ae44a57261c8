import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExpirySweep } from '../../src/tokens/expiry.js';
import {
  bearer,
  createTestApp,
  dialects,
  expectError,
  type Json,
  json,
  ownerWorkspace,
  type TestApp,
} from '../helpers.js';
import { invalidated, openSse, type SseEvent, type SseReader } from '../sse.js';

const HOUR_MS = 3_600_000;

/** `GET /v1/tokens/stream` and `POST /v1/tokens/usage`, against a real app listening on a port. */
describe.each(dialects())('%s: change stream and usage reports', (dialect) => {
  let t: TestApp;
  let base: string;
  const readers: SseReader[] = [];
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_STREAMS_PER_WORKSPACE: '3', TOOKEN_STREAM_KEEPALIVE_MS: '20' });
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    for (const reader of readers) reader.close();
    await t.close();
  });

  const stream = async (secret: string, path = '/v1/tokens/stream') => {
    const reader = await openSse(`${base}${path}`, bearer(secret));
    readers.push(reader);
    return reader;
  };
  const call = async (key: string, method: 'POST' | 'DELETE' | 'GET', url: string, payload?: Json) =>
    t.app.inject({ method, url, headers: bearer(key), ...(payload === undefined ? {} : { payload }) });
  const newToken = async (key: string, payload: Json = {}) =>
    json(
      await call(key, 'POST', '/v1/tokens', {
        name: `t-${Math.random()}`,
        scopes: ['tokens:read'],
        ...payload,
      }),
    );

  it('relays revoke, rotate and expiry as invalidate events naming the token, after commit', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const reader = await stream(key.key);
    expect(reader.status).toBe(200);
    expect(reader.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const revoked = await newToken(key.key);
    expect((await call(key.key, 'DELETE', `/v1/tokens/${revoked.id}`)).statusCode).toBe(204);
    await reader.next((e) => invalidated(e).includes(revoked.id));

    const rotated = await newToken(key.key);
    expect((await call(key.key, 'POST', `/v1/tokens/${rotated.id}/rotate`, {})).statusCode).toBe(200);
    await reader.next((e) => invalidated(e).includes(rotated.id));

    const expiring = await newToken(key.key, { expires_at: new Date(t.clock.now() + HOUR_MS).toISOString() });
    t.clock.advance(HOUR_MS);
    await createExpirySweep(t.services)();
    await reader.next((e) => invalidated(e).includes(expiring.id));
  });

  it('relays a rotation grace end when the sweep drops the retired secret', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const token = await newToken(key.key, { expires_at: null });
    const reader = await stream(key.key);
    await call(key.key, 'POST', `/v1/tokens/${token.id}/rotate`, { grace_period_seconds: 60 });
    const rotation = await reader.next((e) => invalidated(e).includes(token.id));
    const after = (e: SseEvent) => reader.events.indexOf(e) > reader.events.indexOf(rotation);
    t.clock.advance(60_000);
    await createExpirySweep(t.services)();
    await reader.next((e) => after(e) && invalidated(e).includes(token.id));
  });

  it("sends another workspace's changes to no one but its own streams", async () => {
    const mine = await ownerWorkspace(t.app, { key: 'team' });
    const theirs = await ownerWorkspace(t.app, { key: 'team' });
    const reader = await stream(mine.key.key);
    const other = await newToken(theirs.key.key);
    await call(theirs.key.key, 'DELETE', `/v1/tokens/${other.id}`);
    const own = await newToken(mine.key.key);
    await call(mine.key.key, 'DELETE', `/v1/tokens/${own.id}`);
    await reader.next((e) => invalidated(e).includes(own.id));
    expect(reader.events.some((e) => invalidated(e).includes(other.id))).toBe(false);
  });

  it('sends reset when the node may have missed notices, and a keep-alive comment when idle', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const reader = await stream(key.key);
    await reader.next((e) => e.comment === 'keep-alive');
    t.services.notifier.applyLocally({ type: 'reset' });
    await reader.next((e) => e.event === 'reset');
    // A notice from a node that names no tokens cannot be relayed precisely: everyone resets.
    const seen = reader.events.length;
    t.services.notifier.applyLocally({ type: 'token.changed', digests: ['x'] });
    await reader.next((e) => e.event === 'reset' && reader.events.indexOf(e) >= seen);
  });

  it('refuses without a credential (401), to a token without tokens:verify (403) and for another workspace (404)', async () => {
    const mine = await ownerWorkspace(t.app, { key: 'team' });
    const theirs = await ownerWorkspace(t.app, { key: 'team' });
    const headers = { accept: 'text/event-stream' };
    expectError(
      await t.app.inject({ method: 'GET', url: '/v1/tokens/stream', headers }),
      401,
      'unauthorized',
    );
    const reader = (await newToken(mine.key.key, { scopes: ['tokens:read'] })).token;
    expectError(
      await t.app.inject({
        method: 'GET',
        url: '/v1/tokens/stream',
        headers: { ...headers, ...bearer(reader) },
      }),
      403,
      'forbidden',
    );
    expectError(
      await t.app.inject({
        method: 'GET',
        url: `/v1/workspaces/${theirs.ws.slug}/tokens/stream`,
        headers: { ...headers, ...bearer(mine.key.key) },
      }),
      404,
      'not_found',
    );
    expectError(await call(mine.key.key, 'GET', '/v1/tokens/stream'), 400, 'bad_request');
    // A token with tokens:verify may listen.
    const verifier = (await newToken(mine.key.key, { scopes: ['tokens:verify'] })).token;
    expect((await stream(verifier)).status).toBe(200);
    expect((await stream(mine.key.key, `/v1/workspaces/${mine.ws.slug}/tokens/stream`)).status).toBe(200);
  });

  it('answers 429 beyond the streams a workspace may hold, and takes one again once a stream closes', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const open = [await stream(key.key), await stream(key.key), await stream(key.key)];
    const refused = await fetch(`${base}/v1/tokens/stream`, {
      headers: { accept: 'text/event-stream', ...bearer(key.key) },
    });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: 'rate_limited', status: 429 });
    const streams = t.services.changeStreams.count();
    open[0]?.close();
    while (t.services.changeStreams.count() >= streams) await new Promise((r) => setTimeout(r, 5));
    expect((await stream(key.key)).status).toBe(200);
  });

  it('moves last_used_at forward (never back, never past now) and ignores unknown and foreign ids', async () => {
    const mine = await ownerWorkspace(t.app, { key: 'team' });
    const theirs = await ownerWorkspace(t.app, { key: 'team' });
    const token = await newToken(mine.key.key);
    const foreign = await newToken(theirs.key.key);
    const now = t.clock.now();
    const report = (uses: Json[]) => call(mine.key.key, 'POST', '/v1/tokens/usage', { uses });
    const at = (ms: number) => new Date(ms).toISOString();
    const res = await report([
      { token_id: token.id, count: 3, last_used_at: at(now - 5000) },
      { token_id: foreign.id, count: 1, last_used_at: at(now - 1000) },
      { token_id: 'tok_doesnotexist', count: 1, last_used_at: at(now) },
    ]);
    expect(res.statusCode).toBe(202);
    expect(json(res)).toEqual({ received: true });
    await t.services.usage.flush();
    const lastUsed = async (key: string, id: string) =>
      json(await call(key, 'GET', `/v1/tokens/${id}`)).last_used_at as string | null;
    expect(await lastUsed(mine.key.key, token.id)).toBe(at(now - 5000));
    expect(await lastUsed(theirs.key.key, foreign.id)).toBeNull();
    // Never back.
    await report([{ token_id: token.id, count: 1, last_used_at: at(now - 60_000) }]);
    await t.services.usage.flush();
    expect(await lastUsed(mine.key.key, token.id)).toBe(at(now - 5000));
    // Never into the future.
    await report([{ token_id: token.id, count: 1, last_used_at: at(now + HOUR_MS) }]);
    await t.services.usage.flush();
    expect(await lastUsed(mine.key.key, token.id)).toBe(at(now));
  });

  it('validates usage reports: 400 for the schema, 422 for a date-time that does not parse', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const token = await newToken(key.key);
    const use = { token_id: token.id, count: 1, last_used_at: new Date(t.clock.now()).toISOString() };
    const report = (payload: Json) => call(key.key, 'POST', '/v1/tokens/usage', payload);
    expectError(await report({ uses: [] }), 400, 'bad_request');
    expectError(await report({ uses: Array.from({ length: 1001 }, () => use) }), 400, 'bad_request');
    expectError(await report({ uses: [{ ...use, count: 0 }] }), 400, 'bad_request');
    expectError(await report({ uses: [{ ...use, extra: 1 }] }), 400, 'bad_request');
    expectError(await report({ uses: [{ ...use, last_used_at: 'yesterday' }] }), 422, 'unprocessable_entity');
    expect((await report({ uses: Array.from({ length: 1000 }, () => use) })).statusCode).toBe(202);
    const readOnly = (await newToken(key.key, { scopes: ['tokens:read'] })).token;
    expectError(
      await t.app.inject({
        method: 'POST',
        url: '/v1/tokens/usage',
        headers: bearer(readOnly),
        payload: { uses: [use] },
      }),
      403,
      'forbidden',
    );
  });

  it('ends every stream when the app closes, so closing never waits for them', async () => {
    const other = await createTestApp(dialect, { TOOKEN_STREAM_KEEPALIVE_MS: '20' });
    const url = await other.app.listen({ port: 0, host: '127.0.0.1' });
    const { key } = await ownerWorkspace(other.app, { key: 'team' });
    const reader = await openSse(`${url}/v1/tokens/stream`, bearer(key.key));
    readers.push(reader);
    await reader.next((e) => e.comment === 'keep-alive');
    await other.close();
    await reader.ended;
    expect(other.services.changeStreams.count()).toBe(0);
  });
});
