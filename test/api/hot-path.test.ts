import helmet from '@fastify/helmet';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HELMET_OPTIONS } from '../../src/http/security-headers.js';
import { createTestApp, dialects, type TestApp } from '../helpers.js';

/** Headers any answer has whatever hooks ran: not what a security-header hook adds. */
const NOT_SECURITY = new Set(['content-type', 'content-length', 'date', 'connection', 'x-request-id']);
const securityHeaders = (headers: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !NOT_SECURITY.has(name)));

describe.each(dialects())('%s: the request path stays as it was, made cheaper', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(async () => t.close());

  it('sends exactly the security headers @fastify/helmet sends with the same options', async () => {
    const reference = Fastify();
    await reference.register(helmet, HELMET_OPTIONS);
    reference.get('/healthz', async () => ({ status: 'ok' }));
    const expected = securityHeaders((await reference.inject({ method: 'GET', url: '/healthz' })).headers);
    await reference.close();
    expect(Object.keys(expected).length).toBeGreaterThanOrEqual(10);
    for (const url of ['/healthz', '/v1/no-such-route']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(securityHeaders(res.headers), url).toEqual(expected);
    }
  });
});
