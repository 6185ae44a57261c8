import { describe, expect, it } from 'vitest';
import type { VerifyResult } from '../client.js';
import { TookenError, TookenUnavailableError, TookenUnreachableError } from '../errors.js';
import { createGate, decide, TookenMiddlewareError } from './core.js';
import { tookenFastify } from './fastify.js';
import type { TokenVerifier } from './types.js';

const SECRET = 'tkn_4fQ9xZ2kLm8pR3sT6vW1yB5cD7eG0hJ2nP4q';
const HEADER = `Bearer ${SECRET}`;
const TOKEN = {
  id: 'tok_1',
  name: 'orders-service',
  scopes: ['orders:read'],
  metadata: { team: 'orders' },
  expires_at: null,
};

/** A verifier that answers (or throws) what it is given, and records what it was asked. */
function answering(answer: unknown) {
  const calls: Array<{ secret: string; options: unknown }> = [];
  const verifier: TokenVerifier = {
    async verify(secret, options) {
      calls.push({ secret, options });
      if (answer instanceof Error) throw answer;
      return answer as VerifyResult;
    },
  };
  return { verifier, calls };
}

describe('decide', () => {
  it('passes the secret and the required scopes to the verifier, and nothing when none are required', async () => {
    const scoped = answering({ valid: true, code: 'VALID', token: TOKEN });
    await decide(HEADER, { verifier: scoped.verifier, scopes: ['orders:read'] });
    expect(scoped.calls).toEqual([{ secret: SECRET, options: { scopes: ['orders:read'] } }]);
    const open = answering({ valid: true, code: 'VALID', token: TOKEN });
    await decide(HEADER, { verifier: open.verifier });
    expect(open.calls).toEqual([{ secret: SECRET, options: undefined }]);
  });

  it('never asks the verifier about a missing or malformed credential', async () => {
    const { verifier, calls } = answering({ valid: true, code: 'VALID', token: TOKEN });
    expect(await decide(undefined, { verifier })).toMatchObject({ ok: false, refusal: { status: 401 } });
    expect(await decide('Basic abc', { verifier })).toMatchObject({ ok: false, refusal: { status: 401 } });
    expect(calls).toEqual([]);
  });

  it('attaches only the documented token fields, external_id null when the answer has none', async () => {
    const extra = { ...TOKEN, digest: 'x' };
    const { verifier } = answering({ valid: true, code: 'VALID', token: extra, valid_until: null });
    expect(await decide(HEADER, { verifier })).toEqual({ ok: true, token: { ...TOKEN, external_id: null } });
    const withOwner = answering({ valid: true, code: 'VALID', token: { ...TOKEN, external_id: 'cus_9' } });
    expect(await decide(HEADER, { verifier: withOwner.verifier })).toEqual({
      ok: true,
      token: { ...TOKEN, external_id: 'cus_9' },
    });
  });

  it.each(['NOT_FOUND', 'EXPIRED', 'REVOKED', 'SOMETHING_NEW'])(
    'refuses %s with 401 invalid_token',
    async (code) => {
      const { verifier } = answering({ valid: false, code });
      expect(await decide(HEADER, { verifier, realm: 'api' })).toEqual({
        ok: false,
        refusal: {
          status: 401,
          headers: {
            'www-authenticate':
              'Bearer realm="api", error="invalid_token", error_description="The access token is invalid, expired or revoked"',
          },
          body: { error: 'invalid_token', message: expect.any(String), status: 401 },
        },
      });
    },
  );

  it('never lets in an answer whose code is not VALID, even if it claims valid', async () => {
    const { verifier } = answering({ valid: true, code: 'REVOKED', token: TOKEN });
    expect(await decide(HEADER, { verifier })).toMatchObject({ ok: false, refusal: { status: 401 } });
  });

  it('names every required scope in the insufficient_scope challenge, quoted and escaped', async () => {
    const { verifier } = answering({ valid: false, code: 'INSUFFICIENT_SCOPE', token: TOKEN });
    const decision = await decide(HEADER, { verifier, scopes: ['orders:write', 'a"b\\c'] });
    expect(decision).toMatchObject({
      ok: false,
      refusal: {
        status: 403,
        headers: { 'www-authenticate': 'Bearer error="insufficient_scope", scope="orders:write a\\"b\\\\c"' },
        body: { error: 'insufficient_scope', status: 403 },
      },
    });
  });

  it('answers RATE_LIMITED with 429, the token’s rate limit headers and Retry-After', async () => {
    const reset = Math.floor(Date.now() / 1000) + 30;
    const { verifier } = answering({
      valid: false,
      code: 'RATE_LIMITED',
      token: TOKEN,
      ratelimit: { limit: 10, remaining: 0, reset },
    });
    const decision = await decide(HEADER, { verifier });
    expect(decision).toMatchObject({
      ok: false,
      refusal: {
        status: 429,
        headers: {
          'x-ratelimit-limit': '10',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(reset),
        },
        body: { error: 'rate_limited', status: 429 },
      },
    });
    // Its value is computed from the reset and the clock: see refusals.test.ts.
    expect(!decision.ok && decision.refusal.headers['retry-after']).toMatch(/^[0-9]+$/);
  });

  it('answers RATE_LIMITED without a rate limit of the token (the workspace budget) with a bare 429', async () => {
    const { verifier } = answering({ valid: false, code: 'RATE_LIMITED' });
    expect(await decide(HEADER, { verifier })).toEqual({
      ok: false,
      refusal: {
        status: 429,
        headers: {},
        body: { error: 'rate_limited', message: expect.any(String), status: 429 },
      },
    });
  });

  it('answers USAGE_EXCEEDED with 403 usage_exceeded and no challenge', async () => {
    const { verifier } = answering({ valid: false, code: 'USAGE_EXCEEDED', token: TOKEN, remaining: 0 });
    expect(await decide(HEADER, { verifier })).toEqual({
      ok: false,
      refusal: {
        status: 403,
        headers: {},
        body: { error: 'usage_exceeded', message: expect.any(String), status: 403 },
      },
    });
  });

  it.each([
    ['TookenUnavailableError', new TookenUnavailableError()],
    [
      'TookenUnreachableError',
      new TookenUnreachableError('http://127.0.0.1:1', { cause: new Error('refused') }),
    ],
    ['a 503 from Tooken', new TookenError(503, 'unavailable', 'database down', 'req_1')],
    ['a 500 from Tooken', new TookenError(500, 'internal_error', 'oops', 'req_1')],
    ['a 429 from Tooken', new TookenError(429, 'rate_limited', 'slow down', 'req_1')],
  ])('answers %s with 503 and Retry-After', async (_case, error) => {
    const { verifier } = answering(error);
    expect(await decide(HEADER, { verifier, retryAfterSeconds: 12 })).toEqual({
      ok: false,
      refusal: {
        status: 503,
        headers: { 'retry-after': '12' },
        body: { error: 'unavailable', message: expect.any(String), status: 503 },
      },
    });
  });

  it('throws TookenMiddlewareError, without a status, when Tooken refuses the middleware itself', async () => {
    const cause = new TookenError(401, 'unauthorized', 'Invalid API key', 'req_1');
    const { verifier } = answering(cause);
    const thrown = await decide(HEADER, { verifier }).catch((error: unknown) => error);
    expect(thrown).toBeInstanceOf(TookenMiddlewareError);
    expect(thrown).toMatchObject({ cause, message: expect.stringContaining('401 unauthorized') });
    expect(thrown).not.toHaveProperty('status');
    expect(String((thrown as Error).message)).not.toContain(SECRET);
  });

  it('throws TookenMiddlewareError for a verifier bug and for VALID without a token', async () => {
    await expect(decide(HEADER, { verifier: answering(new TypeError('boom')).verifier })).rejects.toThrow(
      TookenMiddlewareError,
    );
    await expect(
      decide(HEADER, { verifier: answering({ valid: true, code: 'VALID' }).verifier }),
    ).rejects.toThrow(TookenMiddlewareError);
  });
});

/**
 * A verifier that answers `local` at once from `verifyLocally` (or throws it) and `answer` from
 * `verify`, recording which was asked.
 */
function answeringAtOnce(local: unknown, answer: unknown = { valid: true, code: 'VALID', token: TOKEN }) {
  const calls: string[] = [];
  const verifier: TokenVerifier = {
    verifyLocally(_secret, options) {
      calls.push(`local ${JSON.stringify(options)}`);
      if (local instanceof Error) throw local;
      return local as VerifyResult | undefined;
    },
    async verify(_secret, options) {
      calls.push(`verify ${JSON.stringify(options)}`);
      return answer as VerifyResult;
    },
  };
  return { verifier, calls };
}

describe('createGate', () => {
  it('takes an answer verifyLocally gives at once, mapped as verify’s, without calling verify', () => {
    const valid = answeringAtOnce({ valid: true, code: 'VALID', token: { ...TOKEN, extra: 1 } });
    const gate = createGate({ verifier: valid.verifier, scopes: ['orders:read'] });
    expect(gate.atOnce(HEADER)).toEqual({ ...TOKEN, external_id: null });
    expect(valid.calls).toEqual(['local {"scopes":["orders:read"]}']);
    const scoped = answeringAtOnce({ valid: false, code: 'INSUFFICIENT_SCOPE', token: TOKEN });
    expect(
      createGate({ verifier: scoped.verifier, scopes: ['orders:admin'], realm: 'r' }).atOnce(HEADER),
    ).toEqual({
      status: 403,
      headers: { 'www-authenticate': 'Bearer realm="r", error="insufficient_scope", scope="orders:admin"' },
      body: { error: 'insufficient_scope', message: expect.any(String), status: 403 },
    });
    for (const code of ['REVOKED', 'EXPIRED', 'NOT_FOUND']) {
      const refused = answeringAtOnce({ valid: false, code });
      expect(createGate({ verifier: refused.verifier }).atOnce(HEADER)).toMatchObject({ status: 401 });
      expect(refused.calls).toEqual(['local undefined']);
    }
  });

  it('gives nothing at once when verifyLocally cannot answer, and decide then asks verify', async () => {
    const { verifier, calls } = answeringAtOnce(undefined);
    const gate = createGate({ verifier });
    expect(gate.atOnce(HEADER)).toBeUndefined();
    expect(await gate.decide(HEADER)).toEqual({ ...TOKEN, external_id: null });
    expect(calls).toEqual(['local undefined', 'verify undefined']);
  });

  it('gives nothing at once for a verifier without verifyLocally, but refuses a missing credential at once', () => {
    const { verifier, calls } = answering({ valid: true, code: 'VALID', token: TOKEN });
    const gate = createGate({ verifier });
    expect(gate.atOnce(HEADER)).toBeUndefined();
    expect(gate.atOnce(undefined)).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    expect(gate.atOnce('Basic abc')).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    expect(calls).toEqual([]);
  });

  it('answers 503 when verifyLocally throws unavailable, and throws TookenMiddlewareError for anything else', () => {
    const down = answeringAtOnce(new TookenUnavailableError());
    expect(createGate({ verifier: down.verifier, retryAfterSeconds: 3 }).atOnce(HEADER)).toMatchObject({
      status: 503,
      headers: { 'retry-after': '3' },
    });
    const broken = answeringAtOnce(new TypeError('boom'));
    expect(() => createGate({ verifier: broken.verifier }).atOnce(HEADER)).toThrow(TookenMiddlewareError);
    const tokenless = answeringAtOnce({ valid: true, code: 'VALID' });
    expect(() => createGate({ verifier: tokenless.verifier }).atOnce(HEADER)).toThrow(TookenMiddlewareError);
  });
});

describe('tookenFastify', () => {
  const reply = () => {
    const sent: Array<[string, ...unknown[]]> = [];
    return {
      sent,
      code: (status: number) => sent.push(['code', status]),
      header: (name: string, value: string) => sent.push(['header', name, value]),
      send: (body?: unknown) => sent.push(['send', body]),
    };
  };

  it('lets a request the verifier answers at once go on before the hook returns', () => {
    const { verifier, calls } = answeringAtOnce({ valid: true, code: 'VALID', token: TOKEN });
    const request = { headers: { authorization: HEADER }, tooken: null };
    const done: unknown[][] = [];
    const returned = tookenFastify({ verifier })(request, reply(), (...args) => done.push(args));
    expect(returned).toBeUndefined();
    expect(done).toEqual([[]]);
    expect(request.tooken).toEqual({ ...TOKEN, external_id: null });
    expect(calls).toEqual(['local undefined']);
  });

  it('sends a refusal at once without calling done', () => {
    const { verifier } = answeringAtOnce({ valid: false, code: 'REVOKED' });
    const sent = reply();
    const done: unknown[][] = [];
    tookenFastify({ verifier })({ headers: { authorization: HEADER } }, sent, (...args) => done.push(args));
    expect(done).toEqual([]);
    expect(sent.sent.map(([what]) => what)).toEqual(['code', 'header', 'send']);
    expect(sent.sent[0]).toEqual(['code', 401]);
  });

  it('waits for verify when the verifier cannot answer at once, and hands its failure to done', async () => {
    const waited = answeringAtOnce(undefined);
    const request = { headers: { authorization: HEADER }, tooken: null };
    const passed = await new Promise<unknown[]>((resolve) => {
      tookenFastify({ verifier: waited.verifier })(request, reply(), (...args) => resolve(args));
    });
    expect(passed).toEqual([]);
    expect(request.tooken).toEqual({ ...TOKEN, external_id: null });
    const failing = answering(new TookenError(401, 'unauthorized', 'Invalid API key', 'req_1'));
    const failed = await new Promise<unknown[]>((resolve) => {
      tookenFastify({ verifier: failing.verifier })(
        { headers: { authorization: HEADER } },
        reply(),
        (...args) => resolve(args),
      );
    });
    expect(failed[0]).toBeInstanceOf(TookenMiddlewareError);
  });
});
