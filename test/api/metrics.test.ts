import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/auth/credentials.js';
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
import { hasSample, parsePrometheusText, sampleValue, scrapeMetrics as scrape } from '../prometheus-text.js';

// Who may scrape /metrics, its format, its labels and one registry per app. What each metric
// counts is in metrics-values.test.ts.

const METRICS_TOKEN = 'scrape-Token_0123456789.abcdef';
const REMOTE = '203.0.113.7';

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
    t = await createTestApp(dialect);
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

  it('keeps its counts to its own app: a second app in the process starts from zero', async () => {
    const { key } = await ownerWorkspace(t.app, { key: 'team' });
    const verify = await t.app.inject({
      method: 'POST',
      url: '/v1/tokens/verify',
      headers: bearer(key.key),
      payload: { token: generateSecret('token') },
    });
    expect(json(verify).code).toBe('NOT_FOUND');
    const other = await createTestApp(dialect);
    try {
      expect(other.services.metrics.registry).not.toBe(t.services.metrics.registry);
      expect(await verifyCount(t, 'NOT_FOUND')).toBeGreaterThan(0);
      expect(await verifyCount(other, 'NOT_FOUND')).toBe(0);
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
