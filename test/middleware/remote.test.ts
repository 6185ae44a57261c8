import { createServer } from 'node:http';
import { authenticate, remoteVerifier, TookenUnreachableError } from '@tooken/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, type Json } from '../helpers.js';
import { served, type TookenFixture, tookenFixture } from './fixture.js';

const request = (secret: string) =>
  new Request('https://api.example.com/orders', { headers: { authorization: `Bearer ${secret}` } });

describe.each(dialects())('%s: remoteVerifier', (dialect) => {
  let tooken: TookenFixture;

  beforeAll(async () => {
    tooken = await tookenFixture(dialect);
  });
  afterAll(() => tooken?.close());

  it('answers with the verify result, also through the workspace path', async () => {
    for (const workspace of [undefined, tooken.workspace]) {
      const verifier = remoteVerifier({ baseUrl: tooken.baseUrl, apiKey: tooken.apiKey, workspace });
      expect(await verifier.verify(tooken.secrets.valid, { scopes: ['orders:read'] })).toMatchObject({
        valid: true,
        code: 'VALID',
        token: { id: tooken.valid.id },
      });
      expect(await verifier.verify(tooken.secrets.revoked)).toMatchObject({ valid: false, code: 'REVOKED' });
    }
  });

  it('asks the server every time: a revocation holds on the very next request', async () => {
    const verifier = remoteVerifier({ baseUrl: tooken.baseUrl, apiKey: tooken.apiKey });
    const created = await tooken.t.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: { authorization: `Bearer ${tooken.apiKey}` },
      payload: { name: 'short-lived', scopes: ['orders:read'] },
    });
    const { id, token } = created.json() as Json;
    expect((await authenticate(request(token), { verifier })).ok).toBe(true);
    const revoked = await tooken.t.app.inject({
      method: 'DELETE',
      url: `/v1/tokens/${id}`,
      headers: { authorization: `Bearer ${tooken.apiKey}` },
    });
    expect(revoked.statusCode).toBe(204);
    const after = await authenticate(request(token), { verifier });
    expect(after.ok).toBe(false);
    expect(!after.ok && after.response.status).toBe(401);
  });
});

describe('remoteVerifier against a server that never answers', () => {
  it('gives up after timeoutMs, so the middleware answers 503', async () => {
    // Accepts connections and reads requests, but never responds.
    const hung = createServer(() => {});
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const { url, close } = served(hung);
    try {
      const verifier = remoteVerifier({ baseUrl: url, apiKey: 'tok_live_unused', timeoutMs: 50 });
      await expect(verifier.verify('tkn_abc')).rejects.toBeInstanceOf(TookenUnreachableError);
      const auth = await authenticate(request('tkn_abc'), { verifier, retryAfterSeconds: 2 });
      expect(auth.ok).toBe(false);
      expect(!auth.ok && auth.response.status).toBe(503);
      expect(!auth.ok && auth.response.headers.get('retry-after')).toBe('2');
    } finally {
      await close();
    }
  });
});
