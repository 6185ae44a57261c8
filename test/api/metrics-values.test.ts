import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/auth/credentials.js';
import { createJobRunner } from '../../src/background.js';
import { iso } from '../../src/clock.js';
import { enqueueJob } from '../../src/jobs/queue.js';
import type { JobRunner } from '../../src/jobs/runner.js';
import { RETRY_DELAYS_MS } from '../../src/webhooks/deliver.js';
import {
  bearer,
  createTestApp,
  dialects,
  type Json,
  json,
  ownerWorkspace,
  type TestApp,
} from '../helpers.js';
import { hasSample, sampleValue, scrapeMetrics as scrape } from '../prometheus-text.js';
import { type Receiver, sequence, startReceiver } from '../webhook-receiver.js';

// What each metric of /metrics counts, after the events it counts.

const HOUR_MS = 3_600_000;
const silent = { error: () => {}, warn: () => {}, debug: () => {}, info: () => {} };

const verifyCount = async (t: TestApp, code: string) =>
  sampleValue((await scrape(t)).samples, 'tooken_verify_results_total', { code });

describe.each(dialects())('%s: /metrics counts', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    // A small verification budget, so that RATE_LIMITED is reachable.
    t = await createTestApp(dialect, { TOOKEN_VERIFY_RATE_LIMIT_PER_MINUTE: '2' });
  });
  afterAll(() => t.close());

  it('counts every verification by its result code', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const issue = async (payload: Json) => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(key.key),
        payload: { name: `t-${Math.random()}`, scopes: ['tokens:read'], ...payload },
      });
      expect(res.statusCode, res.body).toBe(201);
      return json(res);
    };
    const live = await issue({});
    const revoked = await issue({});
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${revoked.id}`, headers: bearer(key.key) }))
        .statusCode,
    ).toBe(204);
    const expiring = await issue({ expires_at: iso(t.clock.now() + HOUR_MS) });
    const verify = async (token: string, scopes: string[] = []) =>
      json(
        await t.app.inject({
          method: 'POST',
          url: '/v1/tokens/verify',
          headers: bearer(key.key),
          payload: { token, scopes },
        }),
      ).code as string;

    // The budget of 2 goes to the two codes that come after RATE_LIMITED in verify's order.
    const cases: [string, () => Promise<string>][] = [
      ['VALID', () => verify(live.token)],
      ['INSUFFICIENT_SCOPE', () => verify(live.token, ['audit:read'])],
      ['RATE_LIMITED', () => verify(live.token)],
      ['NOT_FOUND', () => verify(generateSecret('token'))],
      ['REVOKED', () => verify(revoked.token)],
      [
        'EXPIRED',
        () => {
          t.clock.advance(2 * HOUR_MS);
          return verify(expiring.token);
        },
      ],
    ];
    for (const [code, run] of cases) {
      const before = await verifyCount(t, code);
      expect(await run()).toBe(code);
      expect(await verifyCount(t, code), code).toBe(before + 1);
    }
  });

  it('counts cache hits and misses of token lookups', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const stranger = generateSecret('token');
    const lookups = async () => {
      const { samples } = await scrape(t);
      return {
        hits: sampleValue(samples, 'tooken_cache_requests_total', { cache: 'token', result: 'hit' }),
        misses: sampleValue(samples, 'tooken_cache_requests_total', { cache: 'token', result: 'miss' }),
      };
    };
    const verify = () =>
      t.app.inject({
        method: 'POST',
        url: '/v1/tokens/verify',
        headers: bearer(key.key),
        payload: { token: stranger },
      });
    const start = await lookups();
    await verify(); // first sight: a miss, remembered
    const afterFirst = await lookups();
    expect(afterFirst.misses).toBe(start.misses + 1);
    await verify(); // the remembered miss answers
    expect((await lookups()).hits).toBe(afterFirst.hits + 1);
  });

  it('shows the job queue by kind and state, and how long the oldest due job has waited', async () => {
    const now = t.clock.now();
    const kind = `metrics.test-${dialect}`;
    await enqueueJob(t.services.db, now, { kind, runAt: now - 90_000 });
    await enqueueJob(t.services.db, now, { kind, runAt: now - 30_000 });
    await enqueueJob(t.services.db, now, { kind, runAt: now + 60_000 });
    const { samples } = await scrape(t);
    expect(sampleValue(samples, 'tooken_jobs', { kind, state: 'due' })).toBe(2);
    expect(sampleValue(samples, 'tooken_jobs', { kind, state: 'scheduled' })).toBe(1);
    expect(sampleValue(samples, 'tooken_jobs', { kind, state: 'running' })).toBe(0);
    expect(sampleValue(samples, 'tooken_jobs_oldest_due_age_seconds', { kind })).toBe(90);
  });

  it('counts failed statements, and shows the pool where the database has one', async () => {
    const errors = async () =>
      sampleValue((await scrape(t)).samples, 'tooken_database_errors_total', { kind: 'statement' });
    const before = await errors();
    await expect(sql`select * from no_such_table`.execute(t.services.db)).rejects.toThrow();
    expect(await errors()).toBe(before + 1);
    const { samples } = await scrape(t);
    expect(hasSample(samples, 'tooken_database_errors_total', { kind: 'connection' })).toBe(true);
    if (dialect === 'postgres') {
      expect(sampleValue(samples, 'tooken_database_pool_max_connections')).toBe(10);
      expect(sampleValue(samples, 'tooken_database_pool_connections')).toBeGreaterThanOrEqual(1);
      expect(hasSample(samples, 'tooken_database_pool_waiting')).toBe(true);
    } else {
      expect(hasSample(samples, 'tooken_database_pool_connections')).toBe(false);
    }
  });
});

describe.each(dialects())('%s: webhook delivery outcomes in /metrics', (dialect) => {
  let t: TestApp;
  let rx: Receiver;
  let runner: JobRunner;
  beforeAll(async () => {
    rx = await startReceiver();
    t = await createTestApp(dialect, { TOOKEN_WEBHOOK_ALLOW_PRIVATE: 'true' });
    runner = createJobRunner(t.services, silent, { nodeId: `metrics-${dialect}` });
  });
  afterAll(async () => {
    await t.close();
    await rx.close();
  });

  it('counts each attempt as succeeded, retried or (after the last retry) failed', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const api = (url: string, payload?: Json) =>
      t.app.inject({
        method: 'POST',
        url: `/v1${url}`,
        headers: bearer(key.key),
        ...(payload ? { payload } : {}),
      });
    const ping = async (path: string) => {
      const hook = await api('/webhooks', { url: rx.url(path), events: ['token.created'] });
      expect(hook.statusCode, hook.body).toBe(201);
      expect((await api(`/webhooks/${json(hook).id}/test`)).statusCode).toBe(202);
    };
    const outcomes = async () => {
      const { samples } = await scrape(t);
      const of = (outcome: string) => sampleValue(samples, 'tooken_webhook_deliveries_total', { outcome });
      return { succeeded: of('succeeded'), retried: of('retried'), failed: of('failed') };
    };
    expect(await outcomes()).toEqual({ succeeded: 0, retried: 0, failed: 0 });
    rx.respond(`/ok-${dialect}`, sequence({ status: 204 }));
    rx.respond(`/down-${dialect}`, sequence({ status: 503 }));
    await ping(`/ok-${dialect}`);
    await ping(`/down-${dialect}`);
    while ((await runner.runDue()) > 0);
    expect(await outcomes()).toEqual({ succeeded: 1, retried: 1, failed: 0 });
    // Each retry is due at its delay, jittered by up to 10 %.
    for (const delay of RETRY_DELAYS_MS) {
      t.clock.advance(Math.ceil(delay * 1.1));
      while ((await runner.runDue()) > 0);
    }
    expect(await outcomes()).toEqual({ succeeded: 1, retried: RETRY_DELAYS_MS.length, failed: 1 });
  });
});

describe.runIf(dialects().includes('postgres'))('postgres: notice delay across nodes', () => {
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

  const noticesSeen = async (node: TestApp) =>
    sampleValue((await scrape(node)).samples, 'tooken_cluster_notice_delay_seconds_count');

  it("measures on each node how long another node's change took to reach it, not its own", async () => {
    const seenByA = await noticesSeen(a);
    const seenByB = await noticesSeen(b);
    const { key } = await ownerWorkspace(a.app, { key: 'team' });
    const created = await a.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(key.key),
      payload: { name: 'watched', scopes: ['tokens:read'] },
    });
    expect(created.statusCode).toBe(201);
    // Node B hears of it through LISTEN/NOTIFY, some time after the response: wait for it.
    for (let i = 0; i < 500 && (await noticesSeen(b)) === seenByB; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await noticesSeen(b)).toBeGreaterThan(seenByB);
    // Node A heard its own notices back, and did not count them.
    expect(await noticesSeen(a)).toBe(seenByA);
    const { samples } = await scrape(b);
    const all = sampleValue(samples, 'tooken_cluster_notice_delay_seconds_bucket', { le: '+Inf' });
    expect(all).toBe(sampleValue(samples, 'tooken_cluster_notice_delay_seconds_count'));
    expect(sampleValue(samples, 'tooken_cluster_notice_delay_seconds_sum')).toBeGreaterThanOrEqual(0);
  });
});
