import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkspaceContext } from '../auth/context.js';
import type { VerifyResult } from './verify.js';
import { createVerifyLane, type VerifyLaneOptions } from './verify-lane.js';

/**
 * The lane's own failure handling, with stand-ins for what the app gives it (the comparison with
 * the real route is test/api/verify-lane.test.ts): whatever throws, the process goes on, nothing
 * is answered twice, and what was not yet counted is left to the route.
 */

const ANSWER: VerifyResult = { valid: false, code: 'NOT_FOUND', valid_until: null };
const context = { workspace: { id: 'ws_1', slug: 'acme' } } as unknown as WorkspaceContext;

function options(overrides: Partial<VerifyLaneOptions> = {}): VerifyLaneOptions {
  return {
    cachedContext: () => context,
    parseJson: (text) => JSON.parse(text),
    validateBody: (body): body is { token: string } =>
      typeof (body as { token?: unknown }).token === 'string',
    verify: () => ({
      budget: { allowed: true, limit: 10, remaining: 9, reset: 60, retryAfter: 0 },
      answer: Promise.resolve(ANSWER),
    }),
    requestIdFor: () => 'req_test',
    securityHeaders: ['x-content-type-options', 'nosniff'],
    hstsHeader: [],
    overHttps: () => false,
    failure: () => ({ status: 503, headers: ['retry-after', '5'], body: '{"error":"unavailable"}' }),
    answered: () => {},
    closing: () => false,
    ...overrides,
  };
}

let server: Server | null = null;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = null;
});

/** A server with the lane in front of a stand-in route that answers 299. */
async function serve(lane: ReturnType<typeof createVerifyLane>): Promise<number> {
  const listening = createServer({ keepAlive: false }, (req, res) =>
    lane.handle(req, res, (_req, routeRes) => {
      routeRes.writeHead(299);
      routeRes.end('route');
    }),
  );
  server = listening;
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  return (listening.address() as AddressInfo).port;
}

function post(port: number): Promise<{ status: number; body: string } | 'closed'> {
  return new Promise((resolve) => {
    const body = '{"token":"tkn_x"}';
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/tokens/verify',
        headers: {
          'content-type': 'application/json',
          'content-length': String(body.length),
          connection: 'close',
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', () => resolve('closed'));
      },
    );
    req.on('error', () => resolve('closed'));
    req.end(body);
  });
}

describe('the verify fast lane when something fails', () => {
  it('answers the failure when the verification rejects (a database gone), once', async () => {
    const failures: unknown[] = [];
    const lane = createVerifyLane(
      options({
        verify: () => ({
          budget: { allowed: true, limit: 10, remaining: 9, reset: 60, retryAfter: 0 },
          answer: Promise.reject(new Error('database gone')),
        }),
        failure: (error) => {
          failures.push(error);
          return { status: 503, headers: ['retry-after', '5'], body: '{"error":"unavailable"}' };
        },
      }),
    );
    const answer = await post(await serve(lane));
    expect(answer).toEqual({ status: 503, body: '{"error":"unavailable"}' });
    expect(failures).toHaveLength(1);
  });

  it('hands the request to the route when parsing or the cached checks throw (nothing counted yet)', async () => {
    for (const broken of [
      {
        parseJson: () => {
          throw new Error('parser bug');
        },
      },
      {
        cachedContext: () => {
          throw new Error('cache bug');
        },
      },
    ]) {
      const lane = createVerifyLane(options(broken));
      const answer = await post(await serve(lane));
      expect(answer).toEqual({ status: 299, body: 'route' });
      expect(lane.counts).toEqual({ answered: 0, handedOver: 1 });
      await new Promise((resolve) => server?.close(resolve));
      server = null;
    }
  });

  it('survives a throw after the answer was written, and a throw while writing it, without answering twice', async () => {
    const logged: unknown[] = [];
    const afterWriting = createVerifyLane(
      options({
        answered: () => {
          throw new Error('metrics bug');
        },
        failure: (error) => {
          logged.push(error);
          return { status: 500, headers: [], body: '{}' };
        },
      }),
    );
    expect(await post(await serve(afterWriting))).toEqual({ status: 200, body: JSON.stringify(ANSWER) });
    expect(logged).toHaveLength(1);
    await new Promise((resolve) => server?.close(resolve));
    server = null;

    const whileWriting = createVerifyLane(
      options({
        // An invalid header value makes writeHead throw, before anything is sent.
        requestIdFor: () => 'bad\nid',
        failure: (error) => {
          logged.push(error);
          return { status: 500, headers: [], body: '{}' };
        },
      }),
    );
    expect(await post(await serve(whileWriting))).toBe('closed');
    expect(logged.length).toBeGreaterThanOrEqual(2);
  });
});
