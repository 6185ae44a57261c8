import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/auth/credentials.js';
import { createJobRunner } from '../../src/background.js';
import { iso } from '../../src/clock.js';
import { enqueueJob, type JobRunner } from '../../src/jobs/runner.js';
import { RETRY_DELAYS_MS } from '../../src/webhooks/deliver.js';
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
import { hasSample, parsePrometheusText, type Sample, sampleValue } from '../prometheus-text.js';
import { type Receiver, sequence, startReceiver } from '../webhook-receiver.js';

const HOUR_MS = 3_600_000;
const silent = { error: () => {}, warn: () => {}, debug: () => {}, info: () => {} };
const METRICS_TOKEN = 'scrape-Token_0123456789.abcdef';
const REMOTE = '203.0.113.7';

/** Scrapes `/metrics` as a local Prometheus would, and parses what it got. */
async function scrape(t: TestApp): Promise<{ text: string; samples: Sample[] }> {
  const res = await t.app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode, res.body).toBe(200);
  return { text: res.body, samples: parsePrometheusText(res.body) };
}

const verifyCount = async (t: TestApp, code: string) =>
  sampleValue((await scrape(t)).samples, 'tooken_verify_results_total', { code });

describe('the Prometheus text parser used below', () => {
  it('refuses lines that are not in the text format', () => {
    for (const text of ['up 1', 'up{job=1} 1\n', 'up one\n', 'up{job="a"} 1 2 3\n', '# TYPE up meter\n']) {
      expect(() => parsePrometheusText(text), text).toThrow();
    }
    expect(parsePrometheusText('# a comment\n# TYPE up gauge\nup{job="a\\"b"} 1\n\nx 2.5e-3\n')).toEqual([
      { name: 'up', labels: { job: 'a"b' }, value: 1 },
      { name: 'x', labels: {}, value: 0.0025 },
    ]);
  });
});

describe.each(dialects())('%s: GET /metrics', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    // A small verification budget, so that RATE_LIMITED is reachable.
    t = await createTestApp(dialect, { TOOKEN_VERIFY_RATE_LIMIT_PER_MINUTE: '2' });
  });
  afterAll(() => t.close());

  it('answers a loopback scraper in the Prometheus text format, with process metrics', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.headers['cache-control']).toBe('no-store');
    const samples = parsePrometheusText(res.body);
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(hasSample(samples, name), name).toBe(true);
    }
    expect(sampleValue(samples, 'tooken_database_up')).toBe(1);
    for (const address of ['::1', '::ffff:127.0.0.1']) {
      const local = await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: address });
      expect(local.statusCode, address).toBe(200);
    }
  });

  it('is refused to any other address while no metrics token is configured', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: REMOTE });
    expectError(res, 403, 'forbidden');
    expect(json(res).message).toContain('TOOKEN_METRICS_TOKEN');
    // A header cannot make a remote client local…
    for (const headers of [{ 'x-forwarded-for': '127.0.0.1' }, { forwarded: 'for=127.0.0.1' }]) {
      const spoofed = await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: REMOTE, headers });
      expectError(spoofed, 403, 'forbidden');
    }
    // …and a reverse proxy on this host, connecting over loopback, does not make its clients local.
    for (const headers of [
      { 'x-forwarded-for': REMOTE },
      { forwarded: `for=${REMOTE}` },
      { 'x-real-ip': REMOTE },
    ]) {
      const proxied = await t.app.inject({
        method: 'GET',
        url: '/metrics',
        remoteAddress: '127.0.0.1',
        headers,
      });
      expectError(proxied, 403, 'forbidden');
    }
  });

  it('is left out of /openapi.json and never counted as a workspace request', async () => {
    const doc = json(await t.app.inject({ method: 'GET', url: '/openapi.json' }));
    expect(Object.keys(doc.paths)).not.toContain('/metrics');
    t.logs.length = 0;
    await scrape(t);
    const line = t.logs.map((l) => JSON.parse(l) as Json).find((l) => l.route === '/metrics');
    expect(line).toMatchObject({ status: 200, workspace_id: null });
  });

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

  it('labels requests with their route pattern and status, never their path', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const pasted = generateSecret('token');
    const res = await t.app.inject({ method: 'GET', url: `/v1/tokens/${pasted}`, headers: bearer(key.key) });
    expect(res.statusCode).toBe(404);
    const stray = generateSecret('token');
    expect((await t.app.inject({ method: 'GET', url: `/${stray}` })).statusCode).toBe(404);
    const { text, samples } = await scrape(t);
    expect(text).not.toContain(pasted.slice(4));
    expect(text).not.toContain(stray.slice(4));
    const labels = { method: 'GET', route: '/v1/tokens/:id', status: '404' };
    expect(sampleValue(samples, 'tooken_http_requests_total', labels)).toBeGreaterThanOrEqual(1);
    expect(sampleValue(samples, 'tooken_http_request_duration_seconds_count', labels)).toBeGreaterThanOrEqual(
      1,
    );
    expect(
      sampleValue(samples, 'tooken_http_requests_total', { route: 'unmatched', status: '404' }),
    ).toBeGreaterThanOrEqual(1);
    const routes = new Set(
      samples.filter((s) => s.name === 'tooken_http_requests_total').map((s) => s.labels.route),
    );
    for (const route of routes) expect(route === 'unmatched' || !route?.includes('tkn_'), route).toBe(true);
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

  it('keeps its counts to its own app: a second app in the process starts from zero', async () => {
    const other = await createTestApp(dialect);
    try {
      expect(other.services.metrics.registry).not.toBe(t.services.metrics.registry);
      expect(await verifyCount(t, 'VALID')).toBeGreaterThan(0);
      expect(await verifyCount(other, 'VALID')).toBe(0);
      const { samples } = await scrape(other);
      // Only the scrapes of `other` itself, and none of the requests made to `t`.
      const routes = new Set(
        samples.filter((s) => s.name === 'tooken_http_requests_total').map((s) => s.labels.route),
      );
      expect([...routes]).toEqual(['/metrics']);
    } finally {
      await other.close();
    }
  });
});

describe.each(dialects())('%s: GET /metrics with TOOKEN_METRICS_TOKEN', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_METRICS_TOKEN: METRICS_TOKEN });
  });
  afterAll(() => t.close());

  it('lets a remote scraper in with the token, and only with it', async () => {
    const remote = (headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: REMOTE, headers });
    const ok = await remote(bearer(METRICS_TOKEN));
    expect(ok.statusCode).toBe(200);
    parsePrometheusText(ok.body);
    for (const headers of [
      {},
      bearer(`${METRICS_TOKEN}x`),
      bearer(METRICS_TOKEN.slice(0, -1)),
      { authorization: METRICS_TOKEN },
    ]) {
      const refused = await remote(headers);
      expectError(refused, 401, 'unauthorized');
      expect(refused.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    }
    // The loopback interface needs no token.
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
  });

  it('never shows the metrics token in its output or its log', async () => {
    await t.app.inject({
      method: 'GET',
      url: '/metrics',
      remoteAddress: REMOTE,
      headers: bearer(METRICS_TOKEN),
    });
    const { text } = await scrape(t);
    expect(text).not.toContain(METRICS_TOKEN);
    expect(t.logs.join('\n')).not.toContain(METRICS_TOKEN);
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
