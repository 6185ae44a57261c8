import { describe, expect, it } from 'vitest';
import { createTransport } from './transport.js';

/** A fake server: answers in turn, and records what it was sent. */
function scripted(...answers: Array<() => Response>) {
  const seen: Array<{ url: string; method: string; headers: Headers; body: string }> = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const request = new Request(input, init);
    seen.push({
      url: request.url,
      method: request.method,
      headers: request.headers,
      body: await request.text(),
    });
    const next = answers.shift();
    if (next === undefined) throw new Error('no more answers');
    return next();
  };
  return { fetch, seen };
}

const limited = (seconds: string) => () =>
  new Response('{}', { status: 429, headers: { 'retry-after': seconds } });
const fine = () => new Response('{"ok":true}', { status: 200 });

describe('the client transport', () => {
  it('retries a 429 after Retry-After with the same body and the same idempotency key', async () => {
    const server = scripted(limited('0'), limited('0'), fine);
    const send = createTransport({
      baseUrl: 'http://tooken.test',
      apiKey: 'tok_live_x',
      fetch: server.fetch,
    });
    const response = await send('http://tooken.test/v1/tokens', { method: 'POST', body: '{"name":"a"}' });
    expect(response.status).toBe(200);
    expect(server.seen).toHaveLength(3);
    expect(new Set(server.seen.map((s) => s.body))).toEqual(new Set(['{"name":"a"}']));
    const keys = server.seen.map((s) => s.headers.get('idempotency-key'));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(keys).size).toBe(1);
  });

  it('gives up after its retries, and never waits longer than it is allowed to', async () => {
    const bounded = scripted(limited('0'), limited('0'), limited('0'));
    const send = createTransport({ baseUrl: 'http://tooken.test', maxRetries: 2, fetch: bounded.fetch });
    expect((await send('http://tooken.test/v1/tokens')).status).toBe(429);
    expect(bounded.seen).toHaveLength(3);

    const long = scripted(limited('3600'));
    const patient = createTransport({
      baseUrl: 'http://tooken.test',
      maxRetryAfterSeconds: 60,
      fetch: long.fetch,
    });
    expect((await patient('http://tooken.test/v1/tokens')).status).toBe(429);
    expect(long.seen).toHaveLength(1);
  });

  it('names the workspace in workspace paths only, and sends the credential', async () => {
    const server = scripted(fine, fine);
    const send = createTransport({
      baseUrl: 'http://tooken.test/base',
      session: { csrfToken: 'csrf', cookie: 'tooken_session=s' },
      workspace: 'acme',
      fetch: server.fetch,
    });
    await send('http://tooken.test/base/v1/tokens?page=2');
    await send('http://tooken.test/base/v1/workspaces');
    expect(server.seen.map((s) => s.url)).toEqual([
      'http://tooken.test/base/v1/workspaces/acme/tokens?page=2',
      'http://tooken.test/base/v1/workspaces',
    ]);
    expect(server.seen[0]?.headers.get('x-csrf-token')).toBe('csrf');
    expect(server.seen[0]?.headers.get('cookie')).toBe('tooken_session=s');
  });

  it('sends no idempotency key with verify or reads', async () => {
    const server = scripted(fine, fine);
    const send = createTransport({ baseUrl: 'http://tooken.test', apiKey: 'k', fetch: server.fetch });
    await send('http://tooken.test/v1/tokens/verify', { method: 'POST', body: '{}' });
    await send('http://tooken.test/v1/tokens');
    expect(server.seen.map((s) => s.headers.get('idempotency-key'))).toEqual([null, null]);
    expect(server.seen[0]?.headers.get('authorization')).toBe('Bearer k');
  });
});
