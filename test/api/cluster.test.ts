import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, dialects, json, ownerWorkspace, type TestApp } from '../helpers.js';

const onPostgres = dialects().filter((d) => d === 'postgres');

/** Polls until `check` holds, for at most `ms` (well under the cache TTL, so only a push can pass). */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < ms) {
    if (await check()) return performance.now() - start;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`condition not met within ${ms} ms`);
}

describe.runIf(onPostgres.length > 0)('postgres: two nodes on one database', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await createTestApp('postgres');
    const url = a.services.config.databaseUrl;
    b = await createTestApp('postgres', {}, { databaseUrl: url });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  async function setup() {
    const { key } = await ownerWorkspace(a.app, { key: 'team' });
    const res = await a.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(key.key),
      payload: { name: 'shared', scopes: ['tokens:read'] },
    });
    const token = json(res);
    const verifyOn = async (node: TestApp, secret = token.token) =>
      json(
        await node.app.inject({
          method: 'POST',
          url: '/v1/tokens/verify',
          headers: bearer(key.key),
          payload: { token: secret },
        }),
      ).code;
    return { key, token, verifyOn };
  }

  it('honours a revoke made on one node on the other without waiting for the cache TTL', async () => {
    const { key, token, verifyOn } = await setup();
    expect(await verifyOn(b)).toBe('VALID'); // now cached on node B
    expect(b.services.tokenCache.stats().size).toBeGreaterThan(0);
    const res = await a.app.inject({
      method: 'DELETE',
      url: `/v1/tokens/${token.id}`,
      headers: bearer(key.key),
    });
    expect(res.statusCode).toBe(204);
    expect(await verifyOn(a)).toBe('REVOKED');
    await eventually(async () => (await verifyOn(b)) === 'REVOKED', 3000);
  });

  it('retires a rotated secret on the other node too', async () => {
    const { key, token, verifyOn } = await setup();
    expect(await verifyOn(b)).toBe('VALID');
    const res = await a.app.inject({
      method: 'POST',
      url: `/v1/tokens/${token.id}/rotate`,
      headers: bearer(key.key),
      payload: {},
    });
    expect(res.statusCode).toBe(200);
    await eventually(async () => (await verifyOn(b)) === 'NOT_FOUND', 3000);
    expect(await verifyOn(b, json(res).token)).toBe('VALID');
  });

  it('tells the other nodes to drop their whole cache when a change is too large for one notice', async () => {
    const { verifyOn } = await setup();
    expect(await verifyOn(b)).toBe('VALID');
    expect(b.services.tokenCache.stats().size).toBeGreaterThan(0);
    const digests = Array.from({ length: 200 }, (_, i) => i.toString(16).padStart(64, '0'));
    await a.services.db
      .transaction()
      .execute((tx) => a.services.notifier.publish(tx, { type: 'token.changed', digests }));
    await eventually(async () => b.services.tokenCache.stats().size === 0, 3000);
  });

  it('refuses a regenerated API key and a demoted member’s key on the other node at once', async () => {
    const { session: owner, ws, key } = await ownerWorkspace(a.app, { key: 'team' });
    const settingsOn = async (node: TestApp, secret: string) =>
      (await node.app.inject({ method: 'GET', url: '/v1/settings', headers: bearer(secret) })).statusCode;
    expect(await settingsOn(b, key.key)).toBe(200); // cached on node B
    const res = await a.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${ws.slug}/api-keys/${key.id}/regenerate`,
      headers: owner.headers,
    });
    expect(res.statusCode).toBe(200);
    await eventually(async () => (await settingsOn(b, key.key)) === 401, 3000);
    expect(await settingsOn(b, json(res).key)).toBe(200);
  });

  it('shares the management rate-limit budget between nodes', async () => {
    const { key } = await ownerWorkspace(a.app, { key: 'team' });
    const remaining = async (node: TestApp) =>
      Number(
        (await node.app.inject({ method: 'GET', url: '/v1/settings', headers: bearer(key.key) })).headers[
          'x-ratelimit-remaining'
        ],
      );
    const first = await remaining(a);
    const second = await remaining(b);
    expect(second).toBe(first - 1);
  });
});
