import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExpirySweep } from '../../src/tokens/expiry.js';
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
  signup,
  type TestApp,
} from '../helpers.js';
import { endedByServer, invalidated, openSse, type SseEvent, type SseReader } from '../sse.js';

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
  const call = async (
    key: string,
    method: 'POST' | 'PATCH' | 'DELETE' | 'GET',
    url: string,
    payload?: Json,
  ) => t.app.inject({ method, url, headers: bearer(key), ...(payload === undefined ? {} : { payload }) });
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

  it('sends reset to every stream when the node may have missed notices, then ends key and token streams', async () => {
    const { session, ws, key } = await ownerWorkspace(t.app, { key: 'team' });
    const bySession = await openSse(`${base}/v1/workspaces/${ws.slug}/tokens/stream`, {
      cookie: session.cookie,
    });
    readers.push(bySession);
    expect(bySession.status).toBe(200);
    const token = (await newToken(key.key, { scopes: ['tokens:verify'] })).token;
    const byKey = await stream(key.key);
    await bySession.next((e) => e.comment === 'keep-alive');
    t.services.notifier.applyLocally({ type: 'reset' });
    await bySession.next((e) => e.event === 'reset');
    // A missed notice may have revoked the credential: reset, then the stream ends and its
    // verifier reconnects.
    await byKey.next((e) => e.event === 'reset');
    expect(await endedByServer(byKey)).toBe('changes_missed');
    // A notice from a node that names no tokens cannot be relayed precisely: the same.
    const byToken = await stream(token);
    const seen = bySession.events.length;
    t.services.notifier.applyLocally({ type: 'token.changed', digests: ['x'] });
    await bySession.next((e) => e.event === 'reset' && bySession.events.indexOf(e) >= seen);
    expect(await endedByServer(byToken)).toBe('changes_missed');
  });

  it('ends the streams of an API key deleted or regenerated, and no other stream', async () => {
    const { session, ws, key } = await ownerWorkspace(t.app, { key: 'team' });
    const deleted = await createApiKey(t.app, session, ws.slug);
    const regenerated = await createApiKey(t.app, session, ws.slug);
    const survivor = await stream(key.key);
    const byDeleted = await stream(deleted.key);
    const byRegenerated = await stream(regenerated.key);
    const keys = `/v1/workspaces/${ws.slug}/api-keys`;
    const asOwner = { headers: session.headers };
    expect(
      (await t.app.inject({ method: 'DELETE', url: `${keys}/${deleted.id}`, ...asOwner })).statusCode,
    ).toBe(204);
    expect(await endedByServer(byDeleted)).toBe('credential_changed');
    expect(
      (await t.app.inject({ method: 'POST', url: `${keys}/${regenerated.id}/regenerate`, ...asOwner }))
        .statusCode,
    ).toBe(200);
    expect(await endedByServer(byRegenerated)).toBe('credential_changed');
    // The workspace's other stream goes on.
    const token = await newToken(key.key);
    await call(key.key, 'DELETE', `/v1/tokens/${token.id}`);
    await survivor.next((e) => invalidated(e).includes(token.id));
    expect(survivor.events.some((e) => e.event === 'end')).toBe(false);
  });

  it("ends the stream of a member's personal key when the member is removed", async () => {
    const { session, ws } = await ownerWorkspace(t.app);
    const member = await signup(t.app);
    await addMember(t.services, ws.id, member.user.id, 'viewer');
    const personal = await createApiKey(t.app, member, ws.slug, { name: 'mine', kind: 'personal' });
    const reader = await stream(personal.key);
    expect(reader.status).toBe(200);
    const res = await t.app.inject({
      method: 'DELETE',
      url: `/v1/workspaces/${ws.slug}/members/${member.user.id}`,
      headers: session.headers,
    });
    expect(res.statusCode).toBe(204);
    expect(await endedByServer(reader)).toBe('credential_changed');
  });

  it('ends the stream of a token revoked or losing tokens:verify, not when another token changes', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const revoked = await newToken(key.key, { scopes: ['tokens:verify'] });
    const narrowed = await newToken(key.key, { scopes: ['tokens:verify', 'tokens:read'] });
    const byRevoked = await stream(revoked.token);
    const byNarrowed = await stream(narrowed.token);
    expect((await call(key.key, 'DELETE', `/v1/tokens/${revoked.id}`)).statusCode).toBe(204);
    expect(await endedByServer(byRevoked)).toBe('credential_changed');
    await byNarrowed.next((e) => invalidated(e).includes(revoked.id));
    const patch = await call(key.key, 'PATCH', `/v1/tokens/${narrowed.id}`, { scopes: ['tokens:read'] });
    expect(patch.statusCode).toBe(200);
    expect(await endedByServer(byNarrowed)).toBe('credential_changed');
  });

  it('ends the stream of a token at its expiry by itself, with no sweep', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const expiresAt = t.clock.now() + 300;
    const token = await newToken(key.key, {
      scopes: ['tokens:verify'],
      expires_at: new Date(expiresAt).toISOString(),
    });
    const reader = await stream(token.token);
    expect(reader.status).toBe(200);
    await reader.next((e) => e.comment === 'keep-alive');
    expect(reader.events.some((e) => e.event === 'end')).toBe(false);
    t.clock.set(expiresAt);
    expect(await endedByServer(reader)).toBe('credential_expired');
  });

  it('ends the stream of a token that expired when the sweep notes it', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const token = await newToken(key.key, {
      scopes: ['tokens:verify'],
      expires_at: new Date(t.clock.now() + HOUR_MS).toISOString(),
    });
    const reader = await stream(token.token);
    await reader.next((e) => e.comment === 'keep-alive');
    t.clock.advance(HOUR_MS);
    await createExpirySweep(t.services)();
    expect(await endedByServer(reader)).toBe('credential_expired');
  });

  it("ends the streams of a deleted workspace's keys and tokens", async () => {
    const { session, ws, key } = await ownerWorkspace(t.app, { key: 'team' });
    const token = await newToken(key.key, { scopes: ['tokens:verify'] });
    const byKey = await stream(key.key);
    const byToken = await stream(token.token);
    const res = await t.app.inject({
      method: 'DELETE',
      url: `/v1/workspaces/${ws.slug}`,
      headers: session.headers,
      payload: { confirm: ws.slug },
    });
    expect(res.statusCode).toBe(204);
    expect(await endedByServer(byKey)).toBe('credential_changed');
    expect(await endedByServer(byToken)).toBe('credential_changed');
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

describe.runIf(dialects().includes('postgres'))('postgres: streams on another node', () => {
  let a: TestApp;
  let b: TestApp;
  let baseB: string;
  const readers: SseReader[] = [];
  beforeAll(async () => {
    a = await createTestApp('postgres');
    b = await createTestApp('postgres', {}, { databaseUrl: a.services.config.databaseUrl });
    baseB = await b.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    for (const reader of readers) reader.close();
    await b.close();
    await a.close();
  });

  it('end when the key or token that opened them is revoked on the other node', async () => {
    const { session, ws, key } = await ownerWorkspace(a.app, { key: 'team' });
    const other = await createApiKey(a.app, session, ws.slug);
    const token = json(
      await a.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(key.key),
        payload: { name: 'edge', scopes: ['tokens:verify'] },
      }),
    );
    const open = async (secret: string) => {
      const reader = await openSse(`${baseB}/v1/tokens/stream`, bearer(secret));
      readers.push(reader);
      expect(reader.status).toBe(200);
      return reader;
    };
    const byKey = await open(other.key);
    const byToken = await open(token.token);
    const deleted = await a.app.inject({
      method: 'DELETE',
      url: `/v1/workspaces/${ws.slug}/api-keys/${other.id}`,
      headers: session.headers,
    });
    expect(deleted.statusCode).toBe(204);
    expect(await endedByServer(byKey)).toBe('credential_changed');
    const revoked = await a.app.inject({
      method: 'DELETE',
      url: `/v1/tokens/${token.id}`,
      headers: bearer(key.key),
    });
    expect(revoked.statusCode).toBe(204);
    expect(await endedByServer(byToken)).toBe('credential_changed');
  });
});
