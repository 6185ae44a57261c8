import { authenticate, remoteVerifier } from '@tooken/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, type Json } from '../helpers.js';
import { type TookenFixture, tookenFixture } from './fixture.js';

/** A workspace whose verification budget is spent: the middleware answers 429, not 401. */
describe.each(dialects())('%s: middleware past the verification budget', (dialect) => {
  let tooken: TookenFixture;

  beforeAll(async () => {
    tooken = await tookenFixture(dialect, { TOOKEN_VERIFY_RATE_LIMIT_PER_MINUTE: '2' });
  });
  afterAll(() => tooken?.close());

  it('lets requests through within the budget and answers 429 rate_limited past it', async () => {
    const verifier = remoteVerifier({ baseUrl: tooken.baseUrl, apiKey: tooken.apiKey });
    const request = () =>
      new Request('https://api.example.com/orders', {
        headers: { authorization: `Bearer ${tooken.secrets.valid}` },
      });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await authenticate(request(), { verifier }));
    expect(answers.map((answer) => answer.ok)).toEqual([true, true, false]);
    const last = answers[2];
    if (last === undefined || last.ok) throw new Error('expected a refusal');
    expect(last.response.status).toBe(429);
    expect((await last.response.json()) as Json).toEqual({
      error: 'rate_limited',
      message: expect.any(String),
      status: 429,
    });
  });
});
