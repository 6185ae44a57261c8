import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenRateLimiter } from '../../src/tokens/rate.js';
import { createUsesRefill } from '../../src/tokens/uses.js';
import {
  bearer,
  createTestApp,
  dialects,
  expectError,
  type Json,
  json,
  ownerWorkspace,
  type TestApp,
  testClock,
} from '../helpers.js';

/** A token's own limits (docs/tokens.md#limits): a budget of uses with refills, and a rate limit. */

const DAY_MS = 86_400_000;
const suffix = () => randomBytes(3).toString('hex');

async function issue(t: TestApp, key: string, payload: Json): Promise<Json> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: bearer(key),
    payload: { name: `limited-${suffix()}`, scopes: ['tokens:read'], ...payload },
  });
  expect(res.statusCode, res.body).toBe(201);
  return json(res);
}

async function verifyOn(t: TestApp, key: string, token: string, scopes?: string[]) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/tokens/verify',
    headers: bearer(key),
    payload: { token, ...(scopes ? { scopes } : {}) },
  });
  expect(res.statusCode, res.body).toBe(200);
  return { body: json(res), headers: res.headers };
}

const codes = (answers: Json[]) => answers.map((a) => a.code);
const count = (answers: Json[], code: string) => answers.filter((a) => a.code === code).length;

describe.each(dialects())('%s: token limits', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_RATE_LIMIT_PER_MINUTE: '100000' });
  });
  afterAll(() => t.close());
  const setup = async () => (await ownerWorkspace(t.app, { key: 'team' })).key.key as string;
  const verify = async (key: string, token: string, scopes?: string[]) =>
    (await verifyOn(t, key, token, scopes)).body;

  describe('uses', () => {
    it('takes one use per VALID answer, says what is left, and answers USAGE_EXCEEDED at 0', async () => {
      const key = await setup();
      const token = await issue(t, key, { limits: { uses: { remaining: 3 } } });
      expect(token.limits).toEqual({ uses: { remaining: 3, refill: null }, rate: null });
      const answers = [];
      for (let i = 0; i < 4; i += 1) answers.push(await verify(key, token.token));
      expect(answers.map((a) => [a.code, a.remaining])).toEqual([
        ['VALID', 2],
        ['VALID', 1],
        ['VALID', 0],
        ['USAGE_EXCEEDED', 0],
      ]);
      expect(answers[3]).toMatchObject({ valid: false, token: { id: token.id } });
      const read = json(
        await t.app.inject({ method: 'GET', url: `/v1/tokens/${token.id}`, headers: bearer(key) }),
      );
      expect(read.limits.uses.remaining).toBe(0);
    });

    it('takes no use for an answer that is not VALID, and still says what is left', async () => {
      const key = await setup();
      const token = await issue(t, key, { limits: { uses: { remaining: 2 } } });
      const refused = await verify(key, token.token, ['tokens:write']);
      expect(refused).toMatchObject({ code: 'INSUFFICIENT_SCOPE', remaining: 2 });
      expect(refused).not.toHaveProperty('ratelimit');
      expect(await verify(key, token.token)).toMatchObject({ code: 'VALID', remaining: 1 });
      await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${token.id}`, headers: bearer(key) });
      expect(await verify(key, token.token)).toMatchObject({ code: 'REVOKED', remaining: 1 });
    });

    it('never carries remaining or ratelimit for a token without limits', async () => {
      const key = await setup();
      const token = await issue(t, key, {});
      const answer = await verify(key, token.token);
      expect(answer.code).toBe('VALID');
      expect(answer).not.toHaveProperty('remaining');
      expect(answer).not.toHaveProperty('ratelimit');
    });

    it('never overdraws when 50 verifies race for the last 20 uses', async () => {
      const key = await setup();
      const token = await issue(t, key, { limits: { uses: { remaining: 20 } } });
      await verify(key, token.token, ['tokens:write']); // cached now: the budget must still be read
      const answers = await Promise.all(Array.from({ length: 50 }, () => verify(key, token.token)));
      expect(count(answers, 'VALID')).toBe(20);
      expect(count(answers, 'USAGE_EXCEEDED')).toBe(30);
      const left = answers.filter((a) => a.code === 'VALID').map((a) => a.remaining);
      expect(new Set(left).size).toBe(20);
      expect(Math.min(...left)).toBe(0);
    });

    it('can be set, changed and removed by PATCH', async () => {
      const key = await setup();
      const token = await issue(t, key, {});
      const patch = (limits: Json | null) =>
        t.app.inject({
          method: 'PATCH',
          url: `/v1/tokens/${token.id}`,
          headers: bearer(key),
          payload: { limits },
        });
      expect(json(await patch({ uses: { remaining: 1 } })).limits.uses.remaining).toBe(1);
      expect((await verify(key, token.token)).remaining).toBe(0);
      expect((await verify(key, token.token)).code).toBe('USAGE_EXCEEDED');
      await patch({ uses: { remaining: 5 }, rate: { limit: 100, window_seconds: 60 } });
      expect((await verify(key, token.token)).remaining).toBe(4);
      // Leaving `uses` out keeps it; null removes it.
      expect(json(await patch({ rate: null })).limits).toEqual({
        uses: { remaining: 4, refill: null },
        rate: null,
      });
      expect(json(await patch({ uses: null })).limits).toEqual({ uses: null, rate: null });
      expect(await verify(key, token.token)).not.toHaveProperty('remaining');
      expectError(
        await patch({ uses: { remaining: 1, refill: { amount: 0, interval: 'day' } } }),
        400,
        'bad_request',
      );
      expectError(
        await patch({ uses: { remaining: 1, refill: { amount: 1, interval: 'week' } } }),
        400,
        'bad_request',
      );
    });
  });

  describe('refill', () => {
    it('sets remaining to the amount at the start of each UTC day, exactly once with two runners', async () => {
      const clock = testClock(Date.parse('2026-03-10T15:00:00.000Z'));
      const node = await createTestApp(dialect, { TOOKEN_RATE_LIMIT_PER_MINUTE: '100000' }, { clock });
      try {
        const { key } = await ownerWorkspace(node.app, { key: 'team' });
        const token = await issue(node, key.key, {
          limits: { uses: { remaining: 1, refill: { amount: 3, interval: 'day' } } },
        });
        const daily = await issue(node, key.key, { limits: { uses: { remaining: 0 } } }); // no refill
        const runners = [
          createUsesRefill({ db: node.services.db, clock: clock.now }),
          createUsesRefill(node.services),
        ];
        const runBoth = async () =>
          (await Promise.all(runners.map((run) => run()))).reduce((a, b) => a + b, 0);
        const left = async () => (await verifyOn(node, key.key, token.token)).body;
        expect((await left()).remaining).toBe(0);
        expect(await runBoth()).toBe(0); // still the day it was given
        expect((await left()).code).toBe('USAGE_EXCEEDED');
        clock.set(Date.parse('2026-03-11T00:00:00.000Z'));
        expect(await runBoth()).toBe(1);
        expect(await runBoth()).toBe(0);
        expect(codes([await left(), await left(), await left(), await left()])).toEqual([
          'VALID',
          'VALID',
          'VALID',
          'USAGE_EXCEEDED',
        ]);
        clock.set(Date.parse('2026-03-11T23:59:59.999Z'));
        expect(await runBoth()).toBe(0);
        clock.set(Date.parse('2026-03-12T00:00:30.000Z'));
        expect(await runBoth()).toBe(1);
        expect((await left()).remaining).toBe(2);
        expect((await verifyOn(node, key.key, daily.token)).body.code).toBe('USAGE_EXCEEDED');
      } finally {
        await node.close();
      }
    });

    it('refills monthly ones at the start of each UTC month only', async () => {
      const clock = testClock(Date.parse('2026-01-31T23:00:00.000Z'));
      const node = await createTestApp(dialect, {}, { clock });
      try {
        const { key } = await ownerWorkspace(node.app, { key: 'team' });
        const token = await issue(node, key.key, {
          limits: { uses: { remaining: 0, refill: { amount: 10, interval: 'month' } } },
        });
        const refill = createUsesRefill(node.services);
        clock.advance(DAY_MS / 48); // 23:30, same month
        expect(await refill()).toBe(0);
        clock.set(Date.parse('2026-02-01T00:00:01.000Z'));
        expect(await Promise.all([refill(), refill()])).toEqual(expect.arrayContaining([1, 0]));
        clock.set(Date.parse('2026-02-20T00:00:00.000Z'));
        expect(await refill()).toBe(0);
        expect((await verifyOn(node, key.key, token.token)).body.remaining).toBe(9);
      } finally {
        await node.close();
      }
    });
  });

  describe('rate', () => {
    it('answers RATE_LIMITED past the token’s own limit, with its state, and lets the window pass', async () => {
      const key = await setup();
      const token = await issue(t, key, { limits: { rate: { limit: 3, window_seconds: 60 } } });
      const other = await issue(t, key, {});
      const answers = [];
      for (let i = 0; i < 4; i += 1) answers.push(await verifyOn(t, key, token.token));
      expect(answers.map((a) => [a.body.code, a.body.ratelimit.remaining])).toEqual([
        ['VALID', 2],
        ['VALID', 1],
        ['VALID', 0],
        ['RATE_LIMITED', 0],
      ]);
      const now = t.clock.now();
      expect(answers[0]?.body.ratelimit).toEqual({
        limit: 3,
        remaining: 2,
        reset: Math.ceil((now - (now % 60_000) + 60_000) / 1000),
      });
      // The workspace's verification budget counts requests as before, untouched by the token's.
      const budget = answers.map((a) => Number(a.headers['x-ratelimit-remaining']));
      expect(budget.map((n) => (budget[0] ?? 0) - n)).toEqual([0, 1, 2, 3]);
      // Other tokens are not limited by it.
      expect((await verify(key, other.token)).code).toBe('VALID');
      t.clock.advance(60_000);
      expect((await verify(key, token.token)).code).toBe('VALID');
    });

    it('keeps counting the hits a reconciliation is sending while it waits for the database', async () => {
      const limiter = createTokenRateLimiter({ db: t.services.db, clock: t.clock.now });
      const hits = (n: number) => Array.from({ length: n }, () => limiter.hit('tok_sync', 5, 60).allowed);
      expect(hits(3)).toEqual([true, true, true]);
      const syncing = limiter.sync(); // takes the 3 hits, then waits for the database
      expect(hits(3)).toEqual([true, true, false]);
      await syncing;
      expect(hits(1)).toEqual([false]);
      expect(limiter.peek('tok_sync', 5, 60).remaining).toBe(0);
      // A second limiter (another node) reads the shared count at its first reconciliation.
      const other = createTokenRateLimiter({ db: t.services.db, clock: t.clock.now });
      expect(other.hit('tok_sync', 5, 60).allowed).toBe(true);
      await limiter.sync();
      await other.sync();
      expect(other.hit('tok_sync', 5, 60).allowed).toBe(false);
    });

    it('orders codes NOT_FOUND, REVOKED, EXPIRED, RATE_LIMITED, INSUFFICIENT_SCOPE, USAGE_EXCEEDED', async () => {
      const key = await setup();
      const token = await issue(t, key, {
        expires_at: new Date(t.clock.now() + DAY_MS).toISOString(),
        limits: { uses: { remaining: 0 }, rate: { limit: 2, window_seconds: 3600 } },
      });
      const v = (scopes?: string[]) => verify(key, token.token, scopes);
      expect(await v()).toMatchObject({ code: 'USAGE_EXCEEDED', remaining: 0, ratelimit: { remaining: 1 } });
      expect(await v(['tokens:write'])).toMatchObject({
        code: 'INSUFFICIENT_SCOPE',
        ratelimit: { remaining: 0 },
      });
      expect(await v(['tokens:write'])).toMatchObject({ code: 'RATE_LIMITED', remaining: 0 });
      t.clock.advance(DAY_MS);
      expect(await v()).toMatchObject({ code: 'EXPIRED', remaining: 0, ratelimit: { limit: 2 } });
      await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${token.id}`, headers: bearer(key) });
      expect(await v()).toMatchObject({ code: 'REVOKED', remaining: 0, ratelimit: { limit: 2 } });
      const unknown = await verify(key, `${token.token.slice(0, -4)}AAAA`);
      expect(unknown).toEqual({ valid: false, code: 'NOT_FOUND', valid_until: null });
    });
  });
});

const onPostgres = dialects().filter((d) => d === 'postgres');

/** Polls until `check` holds, for at most `ms` (well under the cache TTL, so only a push can pass). */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<void> {
  const start = performance.now();
  while (performance.now() - start < ms) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`condition not met within ${ms} ms`);
}

describe.runIf(onPostgres.length > 0)('postgres: token limits on two nodes', () => {
  let a: TestApp;
  let b: TestApp;
  const clock = testClock();
  beforeAll(async () => {
    a = await createTestApp('postgres', { TOOKEN_RATE_LIMIT_PER_MINUTE: '100000' }, { clock });
    b = await createTestApp(
      'postgres',
      { TOOKEN_RATE_LIMIT_PER_MINUTE: '100000' },
      { clock, databaseUrl: a.services.config.databaseUrl },
    );
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('never overdraws when 50 verifies on two nodes race for the last 20 uses', async () => {
    const { key } = await ownerWorkspace(a.app, { key: 'team' });
    const token = await issue(a, key.key, { limits: { uses: { remaining: 20 } } });
    const answers = await Promise.all(
      Array.from(
        { length: 50 },
        async (_, i) => (await verifyOn(i % 2 === 0 ? a : b, key.key, token.token)).body,
      ),
    );
    expect(count(answers, 'VALID')).toBe(20);
    expect(count(answers, 'USAGE_EXCEEDED')).toBe(30);
    expect(new Set(answers.filter((x) => x.code === 'VALID').map((x) => x.remaining)).size).toBe(20);
  });

  it('refills exactly once with a job runner on each node', async () => {
    const { key } = await ownerWorkspace(a.app, { key: 'team' });
    const token = await issue(a, key.key, {
      limits: { uses: { remaining: 0, refill: { amount: 7, interval: 'day' } } },
    });
    clock.advance(DAY_MS);
    const refilled = await Promise.all([createUsesRefill(a.services)(), createUsesRefill(b.services)()]);
    expect(refilled.filter((n) => n > 0)).toHaveLength(1);
    expect((await verifyOn(b, key.key, token.token)).body.remaining).toBe(6);
  });

  it('counts a token’s rate on each node and reconciles through the database', async () => {
    const { key } = await ownerWorkspace(a.app, { key: 'team' });
    const token = await issue(a, key.key, { limits: { rate: { limit: 10, window_seconds: 3600 } } });
    for (let i = 0; i < 6; i += 1) expect((await verifyOn(a, key.key, token.token)).body.code).toBe('VALID');
    // Node B has seen one hit of its own when the nodes reconcile (each does every second).
    expect((await verifyOn(b, key.key, token.token)).body.ratelimit.remaining).toBe(9);
    await a.services.tokenRateLimiter.sync();
    await b.services.tokenRateLimiter.sync();
    const onB = [];
    for (let i = 0; i < 4; i += 1) onB.push((await verifyOn(b, key.key, token.token)).body);
    expect(codes(onB)).toEqual(['VALID', 'VALID', 'VALID', 'RATE_LIMITED']);
    expect(onB[2]?.ratelimit.remaining).toBe(0);
    await b.services.tokenRateLimiter.sync();
    await a.services.tokenRateLimiter.sync();
    expect((await verifyOn(a, key.key, token.token)).body.code).toBe('RATE_LIMITED');
  });

  it('shows a PATCH made on one node in the other node’s next verify', async () => {
    const { key } = await ownerWorkspace(a.app, { key: 'team' });
    const token = await issue(a, key.key, { scopes: ['tokens:read', 'tokens:verify'] });
    const onB = async () => (await verifyOn(b, key.key, token.token, ['tokens:verify'])).body.code;
    expect(await onB()).toBe('VALID'); // cached on node B now
    const res = await a.app.inject({
      method: 'PATCH',
      url: `/v1/tokens/${token.id}`,
      headers: bearer(key.key),
      payload: { scopes: ['tokens:read'] },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect((await verifyOn(a, key.key, token.token, ['tokens:verify'])).body.code).toBe('INSUFFICIENT_SCOPE');
    await eventually(async () => (await onB()) === 'INSUFFICIENT_SCOPE', 3000);
  });

  it('revokes in bulk on one node and the other node refuses at once after', async () => {
    const { key } = await ownerWorkspace(a.app, { key: 'team' });
    const token = await issue(a, key.key, { external_id: 'cus_two_nodes' });
    expect((await verifyOn(b, key.key, token.token)).body.code).toBe('VALID');
    await a.app.inject({
      method: 'POST',
      url: '/v1/tokens/revoke',
      headers: bearer(key.key),
      payload: { external_id: 'cus_two_nodes' },
    });
    await eventually(async () => (await verifyOn(b, key.key, token.token)).body.code === 'REVOKED', 3000);
  });
});
