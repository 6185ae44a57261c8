import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, type Json } from '../helpers.js';
import {
  type ClosableVerifier,
  type ProtectedApp,
  SCOPES,
  type Serve,
  type TookenFixture,
  tookenFixture,
  VERIFIERS,
} from './fixture.js';

/** Every database with every verifier the middleware is tested with. */
const cases = dialects().flatMap((dialect) =>
  Object.keys(VERIFIERS).map(
    (verifier) => [`${dialect}, ${verifier} verifier`, { dialect, verifier }] as const,
  ),
);

/**
 * The same requests against any framework's protected app: what the handler sees for a valid
 * token, and every refusal's status, challenge and body.
 */
export function middlewareScenarios(framework: string, serve: Serve): void {
  describe.each(cases)(`%s: ${framework} middleware`, (_name, { dialect, verifier: kind }) => {
    let tooken: TookenFixture;
    let app: ProtectedApp;
    const verifiers: ClosableVerifier[] = [];

    beforeAll(async () => {
      tooken = await tookenFixture(dialect);
      const make = VERIFIERS[kind];
      if (make === undefined) throw new Error(`no verifier ${kind}`);
      const options = { baseUrl: tooken.baseUrl, apiKey: tooken.apiKey };
      const wrongKey = { baseUrl: tooken.baseUrl, apiKey: `tok_live_${'0'.repeat(40)}` };
      verifiers.push(make(options), make(wrongKey));
      const [verifier, misconfigured] = verifiers as [ClosableVerifier, ClosableVerifier];
      app = await serve({
        '/orders': { verifier, scopes: SCOPES['/orders'] },
        '/admin': { verifier, scopes: SCOPES['/admin'], realm: 'orders' },
        '/misconfigured': { verifier: misconfigured },
      });
    });
    afterAll(async () => {
      await app?.close();
      for (const verifier of verifiers) await verifier.close?.();
      await tooken?.close();
    });

    const get = (path: string, authorization?: string) =>
      fetch(`${app.url}${path}`, authorization === undefined ? {} : { headers: { authorization } });

    const expectRefusal = async (res: Response, status: number, error: string) => {
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await res.json()) as Json;
      expect(body).toEqual({ error, message: expect.any(String), status });
      return body;
    };

    it('lets a valid token through and hands its id, name, scopes and metadata to the handler', async () => {
      const res = await get('/orders', `Bearer ${tooken.secrets.valid}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as Json).token).toEqual({ ...tooken.valid, external_id: null });
      expect(tooken.valid.metadata).toEqual({ team: 'orders', tier: 2 });
    });

    it('takes the scheme in any case', async () => {
      const res = await get('/orders', `bEARER ${tooken.secrets.valid}`);
      expect(res.status).toBe(200);
    });

    it('answers a request without credentials with 401 and a bare Bearer challenge', async () => {
      const res = await get('/orders');
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      await expectRefusal(res, 401, 'unauthorized');
    });

    it.each([
      ['garbage', 'garbage'],
      ['another scheme', 'Basic b3JkZXJzOnNlY3JldA=='],
      ['a scheme without credential', 'Bearer'],
      ['two credentials', 'Bearer tkn_a tkn_b'],
      ['a well-formed unknown secret', `Bearer tkn_${'0'.repeat(40)}`],
    ])('answers %s with 401 invalid_token', async (_case, authorization) => {
      const res = await get('/orders', authorization);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
      await expectRefusal(res, 401, 'invalid_token');
    });

    it('answers a revoked token and an expired one with 401 invalid_token', async () => {
      for (const secret of [tooken.secrets.revoked, tooken.secrets.expired]) {
        const res = await get('/orders', `Bearer ${secret}`);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
        const body = await expectRefusal(res, 401, 'invalid_token');
        expect(JSON.stringify(body)).not.toContain(secret);
      }
    });

    it('answers a token without the route’s scopes with 403 insufficient_scope naming them', async () => {
      const res = await get('/admin', `Bearer ${tooken.secrets.valid}`);
      expect(res.headers.get('www-authenticate')).toBe(
        'Bearer realm="orders", error="insufficient_scope", scope="orders:write orders:admin"',
      );
      await expectRefusal(res, 403, 'insufficient_scope');
    });

    it('leaves a verifier that Tooken refuses (a wrong API key) to the framework’s error handling', async () => {
      const res = await get('/misconfigured', `Bearer ${tooken.secrets.valid}`);
      expect(res.status).toBe(500);
      expect(await res.text()).not.toContain(tooken.secrets.valid);
    });

    // Last: it stops the Tooken server.
    it('answers 503 with Retry-After when Tooken is down', async () => {
      await tooken.stop();
      const res = await get('/orders', `Bearer ${tooken.secrets.unseen}`);
      expect(res.headers.get('retry-after')).toBe('5');
      await expectRefusal(res, 503, 'unavailable');
    });
  });
}
