import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditRows,
  bearer,
  createTestApp,
  dialects,
  expectError,
  type Json,
  json,
  outboxRows,
  ownerWorkspace,
  type TestApp,
} from '../helpers.js';

/**
 * Tokens for platforms (docs/tokens.md): names reusable once revoked, external ids and list
 * filters, `PATCH /tokens/{id}` and `POST /tokens/revoke`.
 */

const DAY_MS = 86_400_000;
const suffix = () => randomBytes(3).toString('hex');

describe.each(dialects())('%s: updating and revoking tokens for platforms', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_RATE_LIMIT_PER_MINUTE: '100000' });
  });
  afterAll(() => t.close());

  const call = (secret: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: Json) =>
    t.app.inject({ method, url: `/v1${url}`, headers: bearer(secret), ...(payload ? { payload } : {}) });
  async function issue(secret: string, payload: Json = {}): Promise<Json> {
    const res = await call(secret, 'POST', '/tokens', {
      name: `token-${suffix()}`,
      scopes: ['tokens:read'],
      ...payload,
    });
    expect(res.statusCode, res.body).toBe(201);
    return json(res);
  }
  const verify = async (secret: string, token: string, scopes?: string[]) =>
    json(await call(secret, 'POST', '/tokens/verify', { token, ...(scopes ? { scopes } : {}) }));
  async function setup(customScopes: string[] = []) {
    const { session, ws, key } = await ownerWorkspace(t.app, { key: 'team' });
    if (customScopes.length > 0) {
      const res = await t.app.inject({
        method: 'PATCH',
        url: `/v1/workspaces/${ws.slug}/settings`,
        headers: session.headers,
        payload: { custom_scopes: customScopes },
      });
      expect(res.statusCode, res.body).toBe(200);
    }
    return { ws, key: key.key as string, session };
  }

  describe('names', () => {
    it('keeps names unique case-insensitively among live tokens, and frees a revoked token’s name', async () => {
      const { key } = await setup();
      const first = await issue(key, { name: 'Backend-Prod' });
      expectError(
        await call(key, 'POST', '/tokens', { name: 'backend-prod', scopes: ['tokens:read'] }),
        409,
        'conflict',
      );
      expect((await call(key, 'DELETE', `/tokens/${first.id}`)).statusCode).toBe(204);
      const second = await issue(key, { name: 'backend-PROD' });
      expect(second.name).toBe('backend-PROD');
      // Still one live holder: a third is refused, and renaming onto it too.
      expectError(
        await call(key, 'POST', '/tokens', { name: 'BACKEND-prod', scopes: ['tokens:read'] }),
        409,
        'conflict',
      );
      const other = await issue(key, { name: 'other' });
      expectError(
        await call(key, 'PATCH', `/tokens/${other.id}`, { name: 'Backend-Prod' }),
        409,
        'conflict',
        'name',
      );
      // The revoked one keeps its name, and both show in the list.
      const list = json(await call(key, 'GET', '/tokens?name=backend-prod'));
      expect(list.data.map((x: Json) => x.status).sort()).toEqual(['active', 'revoked']);
    });
  });

  describe('external_id', () => {
    it('is stored on create and returned by get, list and verify', async () => {
      const { key } = await setup();
      const created = await issue(key, { external_id: 'cus_123' });
      expect(created.external_id).toBe('cus_123');
      expect(created.limits).toEqual({ uses: null, rate: null });
      expect(json(await call(key, 'GET', `/tokens/${created.id}`)).external_id).toBe('cus_123');
      expect((await verify(key, created.token)).token.external_id).toBe('cus_123');
      const plain = await issue(key);
      expect(plain.external_id).toBeNull();
    });

    it('refuses one longer than 255 characters or empty', async () => {
      const { key } = await setup();
      const long = await call(key, 'POST', '/tokens', {
        name: 'x',
        scopes: ['tokens:read'],
        external_id: 'a'.repeat(256),
      });
      expectError(long, 400, 'bad_request');
      const empty = await call(key, 'POST', '/tokens', {
        name: 'x',
        scopes: ['tokens:read'],
        external_id: '',
      });
      expectError(empty, 400, 'bad_request');
      expect((await issue(key, { external_id: 'a'.repeat(255) })).external_id).toHaveLength(255);
    });

    it('filters the list by exact external_id and by scope', async () => {
      const { key } = await setup(['orders:read', 'orders:read_all']);
      const a = await issue(key, { external_id: 'cus_A', scopes: ['orders:read'] });
      const b = await issue(key, { external_id: 'cus_A', scopes: ['tokens:read', 'orders:read_all'] });
      await issue(key, { external_id: 'cus_AB', scopes: ['tokens:read'] });
      await issue(key, { external_id: 'cus_a', scopes: ['tokens:verify'] });
      const ids = async (query: string) =>
        json(await call(key, 'GET', `/tokens?${query}`))
          .data.map((x: Json) => x.id)
          .sort();
      expect(await ids('external_id=cus_A')).toEqual([a.id, b.id].sort());
      expect(await ids('scope=orders:read')).toEqual([a.id]);
      expect(await ids('scope=orders:read_all')).toEqual([b.id]);
      expect(await ids('scope=orders:read_')).toEqual([]);
      expect(await ids('scope=orders')).toEqual([]);
      expect(await ids('scope=tokens:read&external_id=cus_A')).toEqual([b.id]);
      expect(json(await call(key, 'GET', '/tokens?scope=tokens:read')).meta.total).toBe(2);
    });
  });

  describe('PATCH /tokens/{id}', () => {
    it('changes name, scopes, metadata, expiry, external id and limits, audited with from/to and announced', async () => {
      const { key, ws } = await setup(['orders:read']);
      const created = await issue(key, { name: 'before', metadata: { a: 1 } });
      const expiresAt = new Date(t.clock.now() + 3 * DAY_MS).toISOString();
      const res = await call(key, 'PATCH', `/tokens/${created.id}`, {
        name: 'after',
        scopes: ['orders:read', 'orders:read'],
        metadata: { b: 2 },
        expires_at: expiresAt,
        external_id: 'cus_9',
        limits: { uses: { remaining: 5 }, rate: { limit: 10, window_seconds: 60 } },
      });
      expect(res.statusCode, res.body).toBe(200);
      const body = json(res);
      expect(body).toMatchObject({
        id: created.id,
        name: 'after',
        scopes: ['orders:read'],
        metadata: { b: 2 },
        expires_at: expiresAt,
        external_id: 'cus_9',
        limits: { uses: { remaining: 5, refill: null }, rate: { limit: 10, window_seconds: 60 } },
      });
      expect(body).not.toHaveProperty('token');
      expect(json(await call(key, 'GET', `/tokens/${created.id}`))).toEqual(body);
      const [entry] = await auditRows(t.services, ws.id, 'token.updated');
      expect(entry?.target_id).toBe(created.id);
      const changes = JSON.parse(String(entry?.changes));
      expect(changes.name).toEqual({ from: 'before', to: 'after' });
      expect(changes.scopes).toEqual({ from: ['tokens:read'], to: ['orders:read'] });
      expect(changes.external_id).toEqual({ from: null, to: 'cus_9' });
      expect(changes.expires_at.to).toBe(expiresAt);
      expect(changes.limits.to.uses.remaining).toBe(5);
      expect(String(entry?.changes)).not.toContain(created.token);
      const events = await outboxRows(t.services, ws.id, 'token.updated');
      expect(events).toHaveLength(1);
      expect(
        JSON.parse(events[0]?.payload ?? '{}').data ?? JSON.parse(events[0]?.payload ?? '{}'),
      ).toMatchObject({
        id: created.id,
        name: 'after',
      });
      expect(events[0]?.payload).not.toContain(created.token);
    });

    it('keeps fields left out, writes nothing when nothing changes, and sets expiry to never with null', async () => {
      const { key, ws } = await setup();
      const created = await issue(key, { metadata: { keep: true }, external_id: 'x' });
      const same = await call(key, 'PATCH', `/tokens/${created.id}`, { name: created.name });
      expect(same.statusCode).toBe(200);
      expect(await auditRows(t.services, ws.id, 'token.updated')).toHaveLength(0);
      const never = json(await call(key, 'PATCH', `/tokens/${created.id}`, { expires_at: null }));
      expect(never).toMatchObject({ expires_at: null, metadata: { keep: true }, external_id: 'x' });
      const cleared = json(await call(key, 'PATCH', `/tokens/${created.id}`, { external_id: null }));
      expect(cleared.external_id).toBeNull();
      expect(await auditRows(t.services, ws.id, 'token.updated')).toHaveLength(2);
    });

    it('validates as create does: unknown scope 400, past or bad expiry 422, big metadata 400, unknown field 400', async () => {
      const { key } = await setup();
      const created = await issue(key);
      const patch = (payload: Json) => call(key, 'PATCH', `/tokens/${created.id}`, payload);
      expectError(await patch({ scopes: ['nope:nope'] }), 400, 'bad_request', 'scopes[0]');
      expectError(await patch({ scopes: [] }), 400, 'bad_request');
      expectError(
        await patch({ expires_at: '2020-01-01T00:00:00Z' }),
        422,
        'unprocessable_entity',
        'expires_at',
      );
      expectError(await patch({ expires_at: 'tomorrow' }), 422, 'unprocessable_entity', 'expires_at');
      expectError(await patch({ metadata: { big: 'x'.repeat(5000) } }), 400, 'bad_request', 'metadata');
      expectError(await patch({ token: 'tkn_x' }), 400, 'bad_request');
      expectError(await patch({ name: '' }), 400, 'bad_request');
      expectError(await patch({ limits: { uses: { remaining: -1 } } }), 400, 'bad_request');
      expectError(
        await patch({ limits: { rate: { limit: 1, window_seconds: 86_401 } } }),
        400,
        'bad_request',
      );
      expect(json(await call(key, 'GET', `/tokens/${created.id}`))).toMatchObject({
        scopes: ['tokens:read'],
      });
    });

    it('answers 409 for a revoked token and 404 for another workspace’s', async () => {
      const { key } = await setup();
      const other = await setup();
      const created = await issue(key);
      expectError(
        await call(other.key, 'PATCH', `/tokens/${created.id}`, { name: 'stolen' }),
        404,
        'not_found',
      );
      await call(key, 'DELETE', `/tokens/${created.id}`);
      expectError(await call(key, 'PATCH', `/tokens/${created.id}`, { name: 'again' }), 409, 'conflict');
    });

    it('refuses a token caller giving a scope it lacks (built-in or custom) or touching a stronger token', async () => {
      const { key } = await setup(['billing:admin', 'orders:write']);
      const writer = await issue(key, { scopes: ['tokens:write', 'orders:write'], expires_at: null });
      const target = await issue(key, { scopes: ['orders:write'], expires_at: null });
      const asWriter = (payload: Json, id = target.id) =>
        call(writer.token, 'PATCH', `/tokens/${id}`, payload);
      expect(
        expectError(await asWriter({ scopes: ['orders:write', 'billing:admin'] }), 403, 'forbidden').message,
      ).toContain('billing:admin');
      expect(expectError(await asWriter({ scopes: ['tokens:revoke'] }), 403, 'forbidden').message).toContain(
        'tokens:revoke',
      );
      const stronger = await issue(key, { scopes: ['billing:admin'], expires_at: null });
      expectError(await asWriter({ name: 'renamed' }, stronger.id), 403, 'forbidden');
      expect(json(await call(key, 'GET', `/tokens/${stronger.id}`)).name).toBe(stronger.name);
      // Within its own scopes it may.
      const ok = await asWriter({ scopes: ['orders:write', 'tokens:write'], name: 'renamed' });
      expect(ok.statusCode, ok.body).toBe(200);
      // A token without tokens:write may not update at all.
      const reader = await issue(key, { scopes: ['tokens:read'] });
      expectError(
        await call(reader.token, 'PATCH', `/tokens/${target.id}`, { name: 'no' }),
        403,
        'forbidden',
      );
    });

    it('refuses a token caller moving expiry past its own', async () => {
      const { key } = await setup();
      const writer = await issue(key, {
        scopes: ['tokens:write', 'tokens:read'],
        expires_at: new Date(t.clock.now() + DAY_MS).toISOString(),
      });
      const target = await issue(key, { expires_at: new Date(t.clock.now() + DAY_MS / 2).toISOString() });
      const later = new Date(t.clock.now() + 2 * DAY_MS).toISOString();
      expectError(
        await call(writer.token, 'PATCH', `/tokens/${target.id}`, { expires_at: later }),
        403,
        'forbidden',
      );
      expectError(
        await call(writer.token, 'PATCH', `/tokens/${target.id}`, { expires_at: null }),
        403,
        'forbidden',
      );
      const sooner = new Date(t.clock.now() + DAY_MS / 4).toISOString();
      expect(
        (await call(writer.token, 'PATCH', `/tokens/${target.id}`, { expires_at: sooner })).statusCode,
      ).toBe(200);
    });

    it('changes the next verify at once: narrowed scopes and expiry are seen despite the cache', async () => {
      const { key } = await setup(['orders:read']);
      const created = await issue(key, { scopes: ['tokens:read', 'orders:read'] });
      expect((await verify(key, created.token, ['orders:read'])).code).toBe('VALID');
      await call(key, 'PATCH', `/tokens/${created.id}`, { scopes: ['tokens:read'], metadata: { v: 2 } });
      const after = await verify(key, created.token, ['orders:read']);
      expect(after.code).toBe('INSUFFICIENT_SCOPE');
      expect(after.token.metadata).toEqual({ v: 2 });
      await call(key, 'PATCH', `/tokens/${created.id}`, {
        expires_at: new Date(t.clock.now() + 1000).toISOString(),
      });
      t.clock.advance(2000);
      expect((await verify(key, created.token)).code).toBe('EXPIRED');
      // Extending an expired token's expiry brings it back.
      await call(key, 'PATCH', `/tokens/${created.id}`, { expires_at: null });
      expect((await verify(key, created.token)).code).toBe('VALID');
    });
  });

  describe('POST /tokens/revoke', () => {
    it('revokes by ids in one go, skipping revoked ones and other workspaces’ ids, one entry and event each', async () => {
      const { key, ws } = await setup();
      const other = await setup();
      const mine = await Promise.all([issue(key), issue(key), issue(key)]);
      const foreign = await issue(other.key);
      await call(key, 'DELETE', `/tokens/${mine[0]?.id}`);
      const res = await call(key, 'POST', '/tokens/revoke', {
        ids: [...mine.map((x) => x.id), mine[1]?.id, foreign.id, 'tok_unknown'],
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(json(res)).toEqual({ revoked: 2 });
      for (const token of mine) expect((await verify(key, token.token)).code).toBe('REVOKED');
      expect((await verify(other.key, foreign.token)).code).toBe('VALID');
      const entries = await auditRows(t.services, ws.id, 'token.revoked');
      expect(entries.map((e) => e.target_id).sort()).toEqual(mine.map((x) => x.id).sort());
      expect(await outboxRows(t.services, ws.id, 'token.revoked')).toHaveLength(3);
      expect(json(await call(key, 'POST', '/tokens/revoke', { ids: mine.map((x) => x.id) }))).toEqual({
        revoked: 0,
      });
      expect(await auditRows(t.services, ws.id, 'token.revoked')).toHaveLength(3);
    });

    it('revokes every live token of an external id', async () => {
      const { key } = await setup();
      const a = await issue(key, { external_id: 'cus_1' });
      const b = await issue(key, { external_id: 'cus_1' });
      const c = await issue(key, { external_id: 'cus_2' });
      expect(json(await call(key, 'POST', '/tokens/revoke', { external_id: 'cus_1' }))).toEqual({
        revoked: 2,
      });
      expect((await verify(key, a.token)).code).toBe('REVOKED');
      expect((await verify(key, b.token)).code).toBe('REVOKED');
      expect((await verify(key, c.token)).code).toBe('VALID');
    });

    it('wants exactly one of ids (1 to 1000) or external_id', async () => {
      const { key } = await setup();
      const bad = [
        {},
        { ids: [] },
        { ids: Array.from({ length: 1001 }, (_, i) => `tok_${i}`) },
        { ids: ['tok_a'], external_id: 'x' },
        { external_id: '' },
        { ids: 'tok_a' },
      ];
      for (const payload of bad)
        expectError(await call(key, 'POST', '/tokens/revoke', payload), 400, 'bad_request');
      const many = await call(key, 'POST', '/tokens/revoke', {
        ids: Array.from({ length: 1000 }, (_, i) => `tok_${i}`),
      });
      expect(json(many)).toEqual({ revoked: 0 });
    });

    it('needs tokens:revoke; a token may not mass-revoke tokens holding a scope it lacks (nothing is revoked)', async () => {
      const { key } = await setup();
      const target = await issue(key, { scopes: ['tokens:read', 'tokens:write'] });
      const weak = await issue(key, { scopes: ['tokens:read'] });
      const writer = await issue(key, { scopes: ['tokens:write'] });
      expectError(await call(writer.token, 'POST', '/tokens/revoke', { ids: [target.id] }), 403, 'forbidden');
      expect((await verify(key, target.token)).code).toBe('VALID');
      const revoker = await issue(key, { scopes: ['tokens:revoke', 'tokens:read'] });
      const refused = expectError(
        await call(revoker.token, 'POST', '/tokens/revoke', { ids: [weak.id, target.id] }),
        403,
        'forbidden',
      );
      expect(refused.message).toContain('tokens:write');
      // One transaction: the weaker token named alongside is not revoked either.
      expect((await verify(key, weak.token)).code).toBe('VALID');
      expect((await verify(key, target.token)).code).toBe('VALID');
      expect(json(await call(revoker.token, 'POST', '/tokens/revoke', { ids: [weak.id] }))).toEqual({
        revoked: 1,
      });
      // An API key (a member's role) is not bound by scopes.
      expect(json(await call(key, 'POST', '/tokens/revoke', { ids: [target.id] }))).toEqual({ revoked: 1 });
    });
  });
});
