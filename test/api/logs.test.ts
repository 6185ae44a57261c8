import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createTestApp,
  dialects,
  type Json,
  json,
  ownerWorkspace,
  type Session,
  type TestApp,
} from '../helpers.js';

/** What a log line may show of a secret: its prefix, never the rest. */
const REDACTED = /(tkn_|tok_live_|whsec_)?\[redacted\]/;

// A secret pasted where an id belongs, echoed in an error or sent as a request id must not reach
// the log, whichever line carries it.
describe.each(dialects())('%s: secrets in log lines', (dialect) => {
  let t: TestApp;
  let key: Json;
  let session: Session;
  let token: string;
  /** Shaped like a webhook signing secret, with the `+`, `/` and `=` of base64 in it. */
  const webhookSecret = `whsec_${Buffer.from(randomBytes(30)).toString('base64').slice(0, 36)}+/A=`;
  beforeAll(async () => {
    t = await createTestApp(dialect);
    ({ key, session } = await ownerWorkspace(t.app, { key: 'team' }));
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(key.key),
      payload: { name: 'pasted', scopes: ['tokens:read'] },
    });
    token = json(res).token;
  });
  afterAll(() => t.close());

  const sessionSecret = () => session.cookie.slice(session.cookie.indexOf('=') + 1);

  /** The secrets, and the forms they take in a URL, that no log line may hold. */
  const secrets = (): Record<string, string> => ({
    token: token.slice('tkn_'.length),
    'API key': (key.key as string).slice('tok_live_'.length),
    'webhook secret': webhookSecret.slice('whsec_'.length),
    'URL-encoded webhook secret': encodeURIComponent(webhookSecret).slice('whsec_'.length),
    'session secret': sessionSecret(),
  });

  function expectNoSecret(lines: string[]): void {
    expect(lines.length).toBeGreaterThan(0);
    const text = lines.join('');
    for (const [what, secret] of Object.entries(secrets())) {
      expect(secret.length, what).toBeGreaterThanOrEqual(20);
      expect(text.includes(secret), `a log line holds the ${what}`).toBe(false);
    }
  }

  it('redacts each kind of secret pasted into a request path, keeping the rest of the path', async () => {
    const from = t.logs.length;
    const paths = [
      `/v1/tokens/${token}`,
      `/v1/api-keys/${key.key}`,
      `/v1/webhooks/${encodeURIComponent(webhookSecret)}`,
      `/v1/tokens/${sessionSecret()}`,
      `/v1/no-such-route/${token}`,
    ];
    for (const url of paths) {
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(key.key) });
      expect(res.statusCode, url).toBe(404);
    }
    const lines = t.logs.slice(from);
    expectNoSecret(lines);
    const logged = lines.map((line) => JSON.parse(line) as Json).filter((line) => line.msg === 'request');
    expect(logged.map((line) => line.path)).toEqual([
      '/v1/tokens/tkn_[redacted]',
      '/v1/api-keys/tok_live_[redacted]',
      '/v1/webhooks/whsec_[redacted]',
      '/v1/tokens/[redacted]',
      '/v1/no-such-route/tkn_[redacted]',
    ]);
  });

  it('redacts a secret sent as the request id', async () => {
    const from = t.logs.length;
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/settings',
      headers: { ...bearer(key.key), 'x-request-id': token },
    });
    expect(res.statusCode).toBe(200);
    const lines = t.logs.slice(from);
    expectNoSecret(lines);
    expect(lines.join('')).toMatch(REDACTED);
  });

  it('redacts secrets in the message and stack of an error logged with a 500 or a 503', async () => {
    const original = t.services.tokens.list;
    const failures = [
      new Error(`could not list tokens after ${token} with ${key.key}`),
      Object.assign(new Error(`database is locked while reading ${webhookSecret}`), { code: 'SQLITE_BUSY' }),
    ];
    const from = t.logs.length;
    try {
      for (const failure of failures) {
        t.services.tokens.list = async () => {
          throw failure;
        };
        const res = await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(key.key) });
        expect(res.statusCode).toBe(failure === failures[0] ? 500 : 503);
        expect(res.body).not.toContain(token);
      }
    } finally {
      t.services.tokens.list = original;
    }
    const lines = t.logs.slice(from);
    expectNoSecret(lines);
    const errors = lines.map((line) => JSON.parse(line) as Json).filter((line) => line.err !== undefined);
    expect(errors).toHaveLength(2);
    for (const line of errors) {
      expect(line.err.message).toMatch(REDACTED);
      expect(line.err.stack).toMatch(REDACTED);
    }
  });
});
