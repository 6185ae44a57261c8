import { type CachedVerifier, createVerifier, TookenUnavailableError } from '@tooken/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTokenSecret } from '../../packages/client/src/verifier/secret.js';
import { generateSecret } from '../../src/auth/credentials.js';
import { startTcpProxy } from '../faults.js';
import {
  bearer,
  createTestApp,
  dialects,
  type Json,
  json,
  ownerWorkspace,
  type TestApp,
} from '../helpers.js';

const HOUR_MS = 3_600_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits on a real signal of the verifier (an event received, a lost stream), polling its stats. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await sleep(5);
}

/** A fetch that counts the requests to each path, and may rewrite answers. */
function countingFetch(rewrite?: (path: string, response: Response) => Promise<Response>) {
  const calls = new Map<string, number>();
  const fetcher: typeof fetch = async (input, init) => {
    const path = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)
      .pathname;
    calls.set(path, (calls.get(path) ?? 0) + 1);
    const response = await fetch(input, init);
    return rewrite === undefined ? response : rewrite(path, response);
  };
  return {
    fetcher,
    count: (suffix: string) => [...calls].filter(([p]) => p.endsWith(suffix)).reduce((n, [, c]) => n + c, 0),
  };
}

/**
 * Node's fetch (undici) opens a spare connection after a streaming request is aborted (as a closed
 * verifier aborts its stream); the server's close waits on a connection that never sent a request
 * until its headers timeout. Nothing is in flight once the verifiers are closed, so all may go.
 */
/** The secret with one character changed (never to itself): its checksum no longer matches. */
const mistyped = (secret: string) =>
  `${secret.slice(0, 10)}${secret[10] === 'x' ? 'y' : 'x'}${secret.slice(11)}`;

async function closeSpareConnections(t: TestApp): Promise<void> {
  t.app.server.closeAllConnections();
}

describe('the verifier’s local checksum', () => {
  it('accepts every secret the server issues and refuses any other string', () => {
    for (let i = 0; i < 500; i++) {
      const secret = generateSecret('token');
      expect(isTokenSecret(secret)).toBe(true);
      const flipped = `${secret.slice(0, 10)}${secret[10] === 'a' ? 'b' : 'a'}${secret.slice(11)}`;
      expect(isTokenSecret(flipped)).toBe(false);
      // Characters past ASCII whose low bits spell the same digit (the check reads 7 bits of each).
      for (const at of [4, 20, 37, 38, 43]) {
        for (const shift of [128, 256, 0x10000 - 128]) {
          const code = (secret.charCodeAt(at) + shift) & 0xffff;
          expect(
            isTokenSecret(`${secret.slice(0, at)}${String.fromCharCode(code)}${secret.slice(at + 1)}`),
          ).toBe(false);
        }
      }
    }
    for (const other of [
      '',
      'tkn_',
      generateSecret('api_key'),
      `${generateSecret('token')}x`,
      `tkn_${'!'.repeat(40)}`,
    ])
      expect(isTokenSecret(other)).toBe(false);
  });
});

describe.each(dialects())('%s: in-process verifier against a server', (dialect) => {
  let t: TestApp;
  let baseUrl: string;
  const verifiers: CachedVerifier[] = [];
  beforeAll(async () => {
    t = await createTestApp(dialect);
    baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    for (const v of verifiers) await v.close();
    await closeSpareConnections(t);
    await t.close();
  });

  const call = (key: string, method: 'POST' | 'PATCH' | 'DELETE' | 'GET', url: string, payload?: Json) =>
    t.app.inject({ method, url, headers: bearer(key), ...(payload === undefined ? {} : { payload }) });
  const setup = async (options: { url?: string; staleIfErrorMs?: number; fetch?: typeof fetch } = {}) => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const verifier = createVerifier({
      baseUrl: options.url ?? baseUrl,
      apiKey: key.key,
      now: t.clock.now,
      staleIfErrorMs: options.staleIfErrorMs,
      fetch: options.fetch,
    });
    verifiers.push(verifier);
    await verifier.ready();
    /** Waits until the verifier heard one more event than it had before `change` ran. */
    const heard = async <T>(change: () => Promise<T>): Promise<T> => {
      const before = verifier.stats().events;
      const result = await change();
      await until(() => verifier.stats().events > before);
      return result;
    };
    /** A new token, once the verifier heard of its creation (so that event cannot drop a cached answer later). */
    const issue = async (payload: Json = {}) =>
      heard(async () =>
        json(
          await call(key.key, 'POST', '/v1/tokens', {
            name: `t-${Math.random()}`,
            scopes: ['tokens:read'],
            ...payload,
          }),
        ),
      );
    return { key: key.key, verifier, issue, heard };
  };

  it('answers a bad checksum NOT_FOUND without a request, and serves a repeated answer from its cache', async () => {
    const counter = countingFetch();
    const { verifier, issue } = await setup({ fetch: counter.fetcher });
    const token = await issue();
    expect(await verifier.verify(mistyped(token.token))).toEqual({
      valid: false,
      code: 'NOT_FOUND',
      valid_until: null,
    });
    expect(counter.count('/tokens/verify')).toBe(0);
    expect(await verifier.verify(token.token)).toMatchObject({
      valid: true,
      code: 'VALID',
      token: { id: token.id },
    });
    expect(await verifier.verify(token.token)).toMatchObject({ code: 'VALID' });
    expect(await verifier.verify(token.token, { scopes: ['tokens:read'] })).toMatchObject({ code: 'VALID' });
    expect(await verifier.verify(token.token, { scopes: ['tokens:write'] })).toMatchObject({
      valid: false,
      code: 'INSUFFICIENT_SCOPE',
      token: { id: token.id },
    });
    expect(counter.count('/tokens/verify')).toBe(1);
    expect(verifier.stats().hits).toBe(3);
    // With the real secret cached, a mistyped one is still refused locally (a hit skips the checksum).
    expect(await verifier.verify(mistyped(token.token))).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(counter.count('/tokens/verify')).toBe(1);
  });

  it('refuses a token at once once its revocation reached it', async () => {
    const { key, verifier, issue, heard } = await setup();
    const token = await issue();
    expect((await verifier.verify(token.token)).code).toBe('VALID');
    await heard(() => call(key, 'DELETE', `/v1/tokens/${token.id}`));
    expect((await verifier.verify(token.token)).code).toBe('REVOKED');
    // The refusal is final: it is cached too.
    const { hits } = verifier.stats();
    expect((await verifier.verify(token.token)).code).toBe('REVOKED');
    expect(verifier.stats().hits).toBe(hits + 1);
  });

  it('refuses a scope once an update narrowed the token (PATCH), serving the new answer', async () => {
    const { key, verifier, issue, heard } = await setup();
    const token = await issue({ scopes: ['tokens:read', 'tokens:write'] });
    expect((await verifier.verify(token.token, { scopes: ['tokens:write'] })).code).toBe('VALID');
    const patched = await heard(() =>
      call(key, 'PATCH', `/v1/tokens/${token.id}`, { scopes: ['tokens:read'] }),
    );
    expect(patched.statusCode).toBe(200);
    expect(await verifier.verify(token.token, { scopes: ['tokens:write'] })).toMatchObject({
      valid: false,
      code: 'INSUFFICIENT_SCOPE',
      token: { id: token.id, scopes: ['tokens:read'] },
    });
    expect(await verifier.verify(token.token)).toMatchObject({
      code: 'VALID',
      token: { scopes: ['tokens:read'] },
    });
  });

  it('refuses the old secret of a rotation without grace', async () => {
    const { key, verifier, issue, heard } = await setup();
    const token = await issue();
    expect((await verifier.verify(token.token)).code).toBe('VALID');
    let rotated: Json = {};
    await heard(async () => {
      rotated = json(await call(key, 'POST', `/v1/tokens/${token.id}/rotate`, {}));
    });
    expect((await verifier.verify(token.token)).code).toBe('NOT_FOUND');
    expect((await verifier.verify(rotated.token)).code).toBe('VALID');
  });

  it('keeps the old secret of a rotation with grace valid until valid_until, then not', async () => {
    const { key, verifier, issue, heard } = await setup();
    const token = await issue({ expires_at: null });
    expect((await verifier.verify(token.token)).code).toBe('VALID');
    await heard(() => call(key, 'POST', `/v1/tokens/${token.id}/rotate`, { grace_period_seconds: 120 }));
    const graceEnd = t.clock.now() + 120_000;
    expect(await verifier.verify(token.token)).toMatchObject({
      code: 'VALID',
      valid_until: new Date(graceEnd).toISOString(),
    });
    t.clock.advance(119_999);
    const { hits } = verifier.stats();
    expect((await verifier.verify(token.token)).code).toBe('VALID');
    expect(verifier.stats().hits).toBe(hits + 1);
    t.clock.advance(1);
    // Past valid_until the entry is not served, with no event needed: the server says it is gone.
    expect((await verifier.verify(token.token)).code).toBe('NOT_FOUND');
    expect(verifier.stats().hits).toBe(hits + 1);
  });

  it('refuses a token once it expires (valid_until), without waiting for the sweep', async () => {
    const { verifier, issue } = await setup();
    const token = await issue({ expires_at: new Date(t.clock.now() + HOUR_MS).toISOString() });
    expect((await verifier.verify(token.token)).code).toBe('VALID');
    t.clock.advance(HOUR_MS);
    expect((await verifier.verify(token.token)).code).toBe('EXPIRED');
  });

  it('never caches an answer carrying remaining or ratelimit (a token with limits)', async () => {
    const counter = countingFetch(async (path, response) => {
      if (!path.endsWith('/tokens/verify')) return response;
      const body = (await response.json()) as Json;
      return Response.json({ ...body, remaining: 5 });
    });
    const { verifier, issue } = await setup({ fetch: counter.fetcher });
    const token = await issue();
    expect(await verifier.verify(token.token)).toMatchObject({ code: 'VALID', remaining: 5 });
    expect(await verifier.verify(token.token)).toMatchObject({ code: 'VALID', remaining: 5 });
    expect(counter.count('/tokens/verify')).toBe(2);
  });

  it('fails closed on a 5xx it has nothing to serve for', async () => {
    const counter = countingFetch(async (path, response) =>
      path.endsWith('/tokens/verify') ? Response.json({ error: 'unavailable' }, { status: 503 }) : response,
    );
    const { verifier, issue } = await setup({ fetch: counter.fetcher });
    const token = await issue();
    await expect(verifier.verify(token.token)).rejects.toBeInstanceOf(TookenUnavailableError);
  });

  it('stops serving cached answers as soon as its stream is cut, and recovers after reconnecting', async () => {
    const port = Number(new URL(baseUrl).port);
    const proxy = await startTcpProxy({ host: '127.0.0.1', port });
    try {
      const { verifier, issue } = await setup({ url: `http://127.0.0.1:${proxy.port}` });
      const token = await issue();
      expect((await verifier.verify(token.token)).code).toBe('VALID');
      await proxy.cut();
      await until(() => !verifier.stats().connected);
      expect(verifier.stats().entries).toBe(0);
      await expect(verifier.verify(token.token)).rejects.toBeInstanceOf(TookenUnavailableError);
      await proxy.restore();
      await verifier.ready();
      expect((await verifier.verify(token.token)).code).toBe('VALID');
      const { hits } = verifier.stats();
      expect((await verifier.verify(token.token)).code).toBe('VALID');
      expect(verifier.stats().hits).toBe(hits + 1);
    } finally {
      await proxy.close();
    }
  });

  it('serves cached answers for at most staleIfErrorMs after losing its stream while the server is unreachable', async () => {
    const port = Number(new URL(baseUrl).port);
    const proxy = await startTcpProxy({ host: '127.0.0.1', port });
    try {
      const { verifier, issue } = await setup({
        url: `http://127.0.0.1:${proxy.port}`,
        staleIfErrorMs: 60_000,
      });
      const token = await issue();
      expect((await verifier.verify(token.token)).code).toBe('VALID');
      await proxy.cut();
      await until(() => !verifier.stats().connected);
      expect((await verifier.verify(token.token)).code).toBe('VALID');
      t.clock.advance(60_001);
      await expect(verifier.verify(token.token)).rejects.toBeInstanceOf(TookenUnavailableError);
      await verifier.close();
    } finally {
      await proxy.close();
    }
  });

  it('reports the uses it served from its cache, moving last_used_at', async () => {
    const { key, verifier, issue } = await setup();
    const token = await issue();
    expect((await verifier.verify(token.token)).code).toBe('VALID');
    t.clock.advance(1000);
    const servedAt = t.clock.now();
    expect((await verifier.verify(token.token)).code).toBe('VALID');
    expect(verifier.stats().hits).toBe(1);
    await verifier.close(); // flushes the report
    await t.services.usage.flush();
    expect(json(await call(key, 'GET', `/v1/tokens/${token.id}`)).last_used_at).toBe(
      new Date(servedAt).toISOString(),
    );
  });

  describe('verifyLocally', () => {
    it('answers at once only what verify would serve from its cache, or a malformed secret', async () => {
      const counter = countingFetch();
      const { verifier, issue } = await setup({ fetch: counter.fetcher });
      const token = await issue();
      // Not cached yet: the server must be asked, and verifyLocally never asks it.
      expect(verifier.verifyLocally(token.token)).toBeUndefined();
      expect(verifier.verifyLocally(mistyped(token.token))).toEqual({
        valid: false,
        code: 'NOT_FOUND',
        valid_until: null,
      });
      expect(verifier.verifyLocally('tkn_short')).toMatchObject({ code: 'NOT_FOUND' });
      expect(counter.count('/tokens/verify')).toBe(0);
      expect(verifier.stats()).toMatchObject({ hits: 0, misses: 0 });

      const asked = await verifier.verify(token.token);
      expect(asked).toMatchObject({ valid: true, code: 'VALID', token: { id: token.id } });
      const local = verifier.verifyLocally(token.token);
      // The very answer verify serves from the cache, shared and frozen.
      expect(local).toBe(await verifier.verify(token.token));
      expect(Object.isFrozen(local)).toBe(true);
      expect(verifier.verifyLocally(token.token, { scopes: ['tokens:read'] })).toMatchObject({
        code: 'VALID',
      });
      const refused = verifier.verifyLocally(token.token, { scopes: ['tokens:write'] });
      expect(refused).toMatchObject({ valid: false, code: 'INSUFFICIENT_SCOPE', token: { id: token.id } });
      expect(await verifier.verify(token.token, { scopes: ['tokens:write'] })).toBe(refused);
      expect(counter.count('/tokens/verify')).toBe(1);
      expect(verifier.stats()).toMatchObject({ hits: 5, misses: 1 });
    });

    it('gives nothing once a revocation dropped the answer, then the new answer once verify asked', async () => {
      const { key, verifier, issue, heard } = await setup();
      const token = await issue();
      await verifier.verify(token.token);
      expect(verifier.verifyLocally(token.token)).toMatchObject({ code: 'VALID' });
      await heard(() => call(key, 'DELETE', `/v1/tokens/${token.id}`));
      expect(verifier.verifyLocally(token.token)).toBeUndefined();
      expect((await verifier.verify(token.token)).code).toBe('REVOKED');
      expect(verifier.verifyLocally(token.token)).toMatchObject({ valid: false, code: 'REVOKED' });
    });

    it('never serves an answer past its valid_until', async () => {
      const { key, verifier, issue, heard } = await setup();
      const token = await issue({ expires_at: null });
      await heard(() => call(key, 'POST', `/v1/tokens/${token.id}/rotate`, { grace_period_seconds: 60 }));
      expect((await verifier.verify(token.token)).code).toBe('VALID');
      t.clock.advance(59_999);
      expect(verifier.verifyLocally(token.token)).toMatchObject({ code: 'VALID' });
      t.clock.advance(1);
      expect(verifier.verifyLocally(token.token)).toBeUndefined();
      expect(verifier.stats().entries).toBe(0);
      expect((await verifier.verify(token.token)).code).toBe('NOT_FOUND');
    });

    it('never serves a cached answer while its stream is down, not even within staleIfErrorMs', async () => {
      const port = Number(new URL(baseUrl).port);
      const proxy = await startTcpProxy({ host: '127.0.0.1', port });
      try {
        const { verifier, issue } = await setup({
          url: `http://127.0.0.1:${proxy.port}`,
          staleIfErrorMs: 60_000,
        });
        const token = await issue();
        expect((await verifier.verify(token.token)).code).toBe('VALID');
        expect(verifier.verifyLocally(token.token)).toMatchObject({ code: 'VALID' });
        await proxy.cut();
        await until(() => !verifier.stats().connected);
        expect(verifier.stats().entries).toBe(1); // kept for staleIfErrorMs…
        expect(verifier.verifyLocally(token.token)).toBeUndefined(); // …served only by verify, on failure
        expect((await verifier.verify(token.token)).code).toBe('VALID');
        await verifier.close();
        expect(verifier.verifyLocally(token.token)).toBeUndefined();
      } finally {
        await proxy.close();
      }
    });

    it('reports the uses it served, moving last_used_at', async () => {
      const { key, verifier, issue } = await setup();
      const token = await issue();
      expect((await verifier.verify(token.token)).code).toBe('VALID');
      t.clock.advance(1000);
      const servedAt = t.clock.now();
      expect(verifier.verifyLocally(token.token)).toMatchObject({ code: 'VALID' });
      // A refused scope is not a use.
      t.clock.advance(1000);
      expect(verifier.verifyLocally(token.token, { scopes: ['tokens:write'] })).toMatchObject({
        code: 'INSUFFICIENT_SCOPE',
      });
      await verifier.close(); // flushes the report
      await t.services.usage.flush();
      expect(json(await call(key, 'GET', `/v1/tokens/${token.id}`)).last_used_at).toBe(
        new Date(servedAt).toISOString(),
      );
    });
  });
});

const onPostgres = dialects().filter((d) => d === 'postgres');

describe.runIf(onPostgres.length > 0)('postgres: a verifier connected to another node', () => {
  let a: TestApp;
  let b: TestApp;
  let verifier: CachedVerifier | null = null;
  let urlB: string;
  beforeAll(async () => {
    a = await createTestApp('postgres');
    b = await createTestApp('postgres', {}, { databaseUrl: a.services.config.databaseUrl, clock: a.clock });
    urlB = await b.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await verifier?.close();
    await closeSpareConnections(b);
    await b.close();
    await a.close();
  });

  it('refuses a scope narrowed on node A once the change reached it through node B', async () => {
    const { key } = await ownerWorkspace(a.app, { key: 'team' });
    const token = json(
      await a.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(key.key),
        payload: { name: 'narrowed', scopes: ['tokens:read', 'tokens:write'] },
      }),
    );
    verifier = createVerifier({ baseUrl: urlB, apiKey: key.key, now: a.clock.now });
    await verifier.ready();
    expect((await verifier.verify(token.token, { scopes: ['tokens:write'] })).code).toBe('VALID');
    const before = verifier.stats().events;
    const res = await a.app.inject({
      method: 'PATCH',
      url: `/v1/tokens/${token.id}`,
      headers: bearer(key.key),
      payload: { scopes: ['tokens:read'] },
    });
    expect(res.statusCode).toBe(200);
    const v = verifier;
    await until(() => v.stats().events > before);
    expect((await verifier.verify(token.token, { scopes: ['tokens:write'] })).code).toBe(
      'INSUFFICIENT_SCOPE',
    );
    await verifier.close();
    verifier = null;
  });

  it('refuses a token revoked on node A once the change reached it through node B', async () => {
    const { key } = await ownerWorkspace(a.app, { key: 'team' });
    const token = json(
      await a.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(key.key),
        payload: { name: 'shared', scopes: ['tokens:read'] },
      }),
    );
    verifier = createVerifier({ baseUrl: urlB, apiKey: key.key, now: a.clock.now });
    await verifier.ready();
    expect((await verifier.verify(token.token)).code).toBe('VALID');
    const before = verifier.stats().events;
    const res = await a.app.inject({
      method: 'DELETE',
      url: `/v1/tokens/${token.id}`,
      headers: bearer(key.key),
    });
    expect(res.statusCode).toBe(204);
    const v = verifier;
    await until(() => v.stats().events > before);
    expect((await verifier.verify(token.token)).code).toBe('REVOKED');
  });
});
