import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iso } from '../../src/clock.js';
import {
  auditRows,
  bearer,
  createTestApp,
  dialects,
  expectError,
  type Json,
  json,
  ownerWorkspace,
  type Session,
  type TestApp,
} from '../helpers.js';

/**
 * What a token may do to other tokens: never hand out a scope it lacks (built-in or custom), never
 * hand out a secret that outlives its own, and its revocation touches nothing else
 * (docs/permissions.md#token-scopes, docs/tokens.md).
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const suffix = () => randomBytes(3).toString('hex');

interface Caller {
  base: string;
  headers: Record<string, string>;
}

describe.each(dialects())('%s: tokens acting through tokens', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  const viaSession = (session: Session, ws: Json): Caller => ({
    base: `/v1/workspaces/${ws.slug}`,
    headers: session.headers,
  });
  const viaBearer = (secret: string): Caller => ({ base: '/v1', headers: bearer(secret) });
  const create = (caller: Caller, payload: Json): Promise<LightMyRequestResponse> =>
    t.app.inject({
      method: 'POST',
      url: `${caller.base}/tokens`,
      headers: caller.headers,
      payload: { name: `token-${suffix()}`, scopes: ['tokens:read'], ...payload },
    });
  const rotate = (caller: Caller, id: string, payload: Json = {}) =>
    t.app.inject({
      method: 'POST',
      url: `${caller.base}/tokens/${id}/rotate`,
      headers: caller.headers,
      payload,
    });
  async function issue(caller: Caller, payload: Json = {}): Promise<Json> {
    const res = await create(caller, payload);
    expect(res.statusCode, res.body).toBe(201);
    return json(res);
  }
  async function verifyCode(caller: Caller, token: string): Promise<string> {
    const res = await t.app.inject({
      method: 'POST',
      url: `${caller.base}/tokens/verify`,
      headers: caller.headers,
      payload: { token },
    });
    expect(res.statusCode, res.body).toBe(200);
    return json(res).code;
  }
  const total = async (caller: Caller) =>
    json(await t.app.inject({ method: 'GET', url: `${caller.base}/tokens`, headers: caller.headers })).meta
      .total;
  async function withCustomScopes(scopes: string[]) {
    const { session, ws } = await ownerWorkspace(t.app);
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/v1/workspaces/${ws.slug}/settings`,
      headers: session.headers,
      payload: { custom_scopes: scopes },
    });
    expect(res.statusCode, res.body).toBe(200);
    return { session, ws, owner: viaSession(session, ws) };
  }

  describe('scopes', () => {
    it('refuses a tokens:write token granting a custom scope it lacks, naming the scope', async () => {
      const { owner } = await withCustomScopes(['billing:admin', 'orders:write']);
      const minter = await issue(owner, { scopes: ['tokens:write', 'orders:write'] });
      const res = await create(viaBearer(minter.token), { scopes: ['billing:admin'], expires_at: null });
      expect(expectError(res, 403, 'forbidden').message).toContain('billing:admin');
      expect((await create(viaBearer(minter.token), { scopes: ['orders:write'] })).statusCode).toBe(201);
      expect(await total(owner)).toBe(2);
    });

    it('lets a token rotate a token whose custom scopes it holds, and no other', async () => {
      const { owner } = await withCustomScopes(['billing:admin', 'orders:write']);
      const billing = await issue(owner, { scopes: ['billing:admin'] });
      const orders = await issue(owner, { scopes: ['orders:write'] });
      const rotator = await issue(owner, { scopes: ['tokens:rotate', 'orders:write'] });
      const refused = await rotate(viaBearer(rotator.token), billing.id);
      expect(expectError(refused, 403, 'forbidden').message).toContain('billing:admin');
      expect(refused.body).not.toMatch(/tkn_/);
      expect(await verifyCode(owner, billing.token)).toBe('VALID');
      expect((await rotate(viaBearer(rotator.token), orders.id)).statusCode).toBe(200);
    });
  });

  describe('lifetimes', () => {
    it('caps the workspace default expiry at the creating token’s own expiry', async () => {
      const { owner } = await withCustomScopes([]);
      const expiresAt = iso(t.clock.now() + DAY_MS);
      const minter = await issue(owner, { scopes: ['tokens:write', 'tokens:read'], expires_at: expiresAt });
      const child = await issue(viaBearer(minter.token));
      expect(child.expires_at).toBe(expiresAt);
    });

    it('caps a default of never, too', async () => {
      const { session, ws, owner } = await withCustomScopes([]);
      const settings = await t.app.inject({
        method: 'PATCH',
        url: `/v1/workspaces/${ws.slug}/settings`,
        headers: session.headers,
        payload: { default_token_expiration_days: null },
      });
      expect(settings.statusCode, settings.body).toBe(200);
      const expiresAt = iso(t.clock.now() + HOUR_MS);
      const minter = await issue(owner, { scopes: ['tokens:write', 'tokens:read'], expires_at: expiresAt });
      expect((await issue(viaBearer(minter.token))).expires_at).toBe(expiresAt);
    });

    it('refuses an explicit expiry later than the creating token’s, or never, with 403 on expires_at', async () => {
      const { owner } = await withCustomScopes([]);
      const minter = await issue(owner, {
        scopes: ['tokens:write', 'tokens:read'],
        expires_at: iso(t.clock.now() + DAY_MS),
      });
      for (const expires_at of [null, iso(t.clock.now() + DAY_MS + 1000)]) {
        const res = await create(viaBearer(minter.token), { expires_at });
        expectError(res, 403, 'forbidden', 'expires_at');
      }
      expect(await total(owner)).toBe(1);
    });

    it('keeps an explicit earlier or equal expiry, and lets a token that never expires grant any', async () => {
      const { owner } = await withCustomScopes([]);
      const expiresAt = iso(t.clock.now() + DAY_MS);
      const minter = await issue(owner, { scopes: ['tokens:write', 'tokens:read'], expires_at: expiresAt });
      const earlier = iso(t.clock.now() + HOUR_MS);
      expect((await issue(viaBearer(minter.token), { expires_at: earlier })).expires_at).toBe(earlier);
      expect((await issue(viaBearer(minter.token), { expires_at: expiresAt })).expires_at).toBe(expiresAt);
      const forever = await issue(owner, { scopes: ['tokens:write', 'tokens:read'], expires_at: null });
      expect((await issue(viaBearer(forever.token), { expires_at: null })).expires_at).toBeNull();
      expect((await issue(viaBearer(forever.token))).expires_at).toBe(iso(t.clock.now() + 90 * DAY_MS));
    });

    it('bounds what an old secret in its rotation grace creates by the end of that grace', async () => {
      const { owner } = await withCustomScopes([]);
      const minter = await issue(owner, { scopes: ['tokens:write', 'tokens:read'], expires_at: null });
      const rotated = await rotate(owner, minter.id, { grace_period_seconds: 3600 });
      expect(rotated.statusCode, rotated.body).toBe(200);
      const graceEnd = iso(t.clock.now() + HOUR_MS);
      expect((await issue(viaBearer(minter.token))).expires_at).toBe(graceEnd);
      expectError(
        await create(viaBearer(minter.token), { expires_at: null }),
        403,
        'forbidden',
        'expires_at',
      );
      expect((await issue(viaBearer(json(rotated).token), { expires_at: null })).expires_at).toBeNull();
    });

    it('refuses a token rotating a token that outlives it, itself included from a retiring secret', async () => {
      const { ws, owner } = await withCustomScopes([]);
      const lasting = await issue(owner, { expires_at: null });
      const shorter = await issue(owner, { expires_at: iso(t.clock.now() + HOUR_MS) });
      const rotator = await issue(owner, {
        scopes: ['tokens:rotate', 'tokens:read'],
        expires_at: iso(t.clock.now() + DAY_MS),
      });
      const res = await rotate(viaBearer(rotator.token), lasting.id);
      expectError(res, 403, 'forbidden');
      expect(res.body).not.toMatch(/tkn_/);
      expect(await verifyCode(owner, lasting.token)).toBe('VALID');
      expect((await rotate(viaBearer(rotator.token), shorter.id)).statusCode).toBe(200);
      // An old secret in its grace period cannot renew itself into a lasting one.
      expect((await rotate(owner, rotator.id, { grace_period_seconds: 60 })).statusCode).toBe(200);
      expectError(await rotate(viaBearer(rotator.token), rotator.id), 403, 'forbidden');
      expect(await auditRows(t.services, ws.id, 'token.rotated')).toHaveLength(2);
    });

    it('leaves every token a token created working when that token is revoked', async () => {
      const { owner } = await withCustomScopes([]);
      const minter = await issue(owner, { scopes: ['tokens:write', 'tokens:read'] });
      const child = await issue(viaBearer(minter.token), { scopes: ['tokens:read'] });
      const revoked = await t.app.inject({
        method: 'DELETE',
        url: `${owner.base}/tokens/${minter.id}`,
        headers: owner.headers,
      });
      expect(revoked.statusCode).toBe(204);
      expect(await verifyCode(owner, minter.token)).toBe('REVOKED');
      expect(await verifyCode(owner, child.token)).toBe('VALID');
      expect(await total(viaBearer(child.token))).toBe(2);
    });
  });
});
