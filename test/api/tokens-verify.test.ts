import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateSecret } from '../../src/auth/credentials.js';
import { iso } from '../../src/clock.js';
import {
  addMember,
  bearer,
  createApiKey,
  createTestApp,
  dialects,
  expectError,
  type Json,
  json,
  ownerWorkspace,
  type Session,
  signup,
  type TestApp,
} from '../helpers.js';

const HOUR_MS = 3_600_000;
const suffix = () => randomBytes(3).toString('hex');
const WRITE = /^\s*(insert|update|delete)\b/i;

/** Flips one character of the random part, keeping it base62: the checksum no longer matches. */
const flipOneCharacter = (secret: string) =>
  `${secret.slice(0, 7)}${secret[7] === 'a' ? 'b' : 'a'}${secret.slice(8)}`;

interface Caller {
  base: string;
  headers: Record<string, string>;
}

/** Token helpers bound to one app; every secret issued is remembered for the leak scan. */
function harness(getApp: () => TestApp) {
  const issued: string[] = [];
  const t = () => getApp();
  const h = {
    issued,
    async newOwner(): Promise<{ session: Session; ws: Json; caller: Caller }> {
      const { session, ws } = await ownerWorkspace(t().app);
      return { session, ws, caller: h.viaSession(session, ws) };
    },
    async newMember(ws: Json, role: 'owner' | 'admin' | 'viewer'): Promise<Session> {
      const session = await signup(t().app);
      await addMember(t().services, ws.id, session.user.id, role);
      return session;
    },
    async newKey(session: Session, ws: Json, payload: Json): Promise<Json> {
      const key = await createApiKey(t().app, session, ws.slug, payload);
      issued.push(key.key);
      return key;
    },
    viaSession: (session: Session, ws: Json): Caller => ({
      base: `/v1/workspaces/${ws.slug}`,
      headers: session.headers,
    }),
    viaBearer: (secret: string): Caller => ({ base: '/v1', headers: bearer(secret) }),
    async issue(caller: Caller, payload: Json = {}): Promise<Json> {
      const res = await t().app.inject({
        method: 'POST',
        url: `${caller.base}/tokens`,
        headers: caller.headers,
        payload: { name: `token-${suffix()}`, scopes: ['tokens:read'], ...payload },
      });
      expect(res.statusCode, res.body).toBe(201);
      issued.push(json(res).token);
      return json(res);
    },
    verify: (caller: Caller, payload: unknown): Promise<LightMyRequestResponse> =>
      t().app.inject({
        method: 'POST',
        url: `${caller.base}/tokens/verify`,
        headers: caller.headers,
        payload: payload as Json,
      }),
    async verifyBody(caller: Caller, token: string, scopes?: string[]): Promise<Json> {
      const res = await h.verify(caller, scopes === undefined ? { token } : { token, scopes });
      expect(res.statusCode, res.body).toBe(200);
      return json(res);
    },
    async code(caller: Caller, token: string, scopes?: string[]): Promise<string> {
      return (await h.verifyBody(caller, token, scopes)).code;
    },
    async revoke(caller: Caller, id: string): Promise<void> {
      const res = await t().app.inject({
        method: 'DELETE',
        url: `${caller.base}/tokens/${id}`,
        headers: caller.headers,
      });
      expect(res.statusCode, res.body).toBe(204);
    },
    list: (caller: Caller, query = '') =>
      t().app.inject({ method: 'GET', url: `${caller.base}/tokens${query}`, headers: caller.headers }),
    get: (caller: Caller, id: string) =>
      t().app.inject({ method: 'GET', url: `${caller.base}/tokens/${id}`, headers: caller.headers }),
    async lastUsedAt(caller: Caller, id: string): Promise<string | null> {
      const res = await t().app.inject({
        method: 'GET',
        url: `${caller.base}/tokens/${id}`,
        headers: caller.headers,
      });
      return json(res).last_used_at;
    },
  };
  return h;
}

describe.each(dialects())('%s: verifying and using tokens', (dialect) => {
  let t: TestApp;
  const h = harness(() => t);
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  describe('POST /tokens/verify', () => {
    it('answers VALID with the token’s id, name, scopes, expires_at and metadata', async () => {
      const { caller } = await h.newOwner();
      const created = await h.issue(caller, {
        name: 'svc',
        scopes: ['tokens:read', 'tokens:verify'],
        metadata: { env: 'prod' },
      });
      const res = await h.verify(caller, { token: created.token });
      expect(res.statusCode).toBe(200);
      expect(json(res)).toEqual({
        valid: true,
        code: 'VALID',
        token: {
          id: created.id,
          name: 'svc',
          scopes: ['tokens:read', 'tokens:verify'],
          expires_at: created.expires_at,
          metadata: { env: 'prod' },
          external_id: null,
        },
        valid_until: created.expires_at,
      });
      expect(res.body).not.toContain(created.token);
      expect(await h.code(caller, created.token, [])).toBe('VALID');
      expect(await h.code(caller, created.token, ['tokens:verify', 'tokens:read'])).toBe('VALID');
    });

    it('answers NOT_FOUND without a token for strings that are not a live secret of this workspace', async () => {
      const { caller, session, ws } = await h.newOwner();
      const created = await h.issue(caller);
      const key = await h.newKey(session, ws, { name: 'ci', kind: 'team' });
      const other = await h.newOwner();
      const theirs = await h.issue(other.caller);
      for (const presented of [
        '',
        'hello',
        'tkn_',
        `${created.token} `,
        created.token.toLowerCase(),
        flipOneCharacter(created.token),
        generateSecret('token'),
        key.key,
        theirs.token,
      ]) {
        expect(await h.verifyBody(caller, presented), presented).toEqual({
          valid: false,
          code: 'NOT_FOUND',
          valid_until: null,
        });
      }
      expect(await h.code(other.caller, theirs.token)).toBe('VALID');
    });

    it('answers EXPIRED as soon as the clock passes expires_at, without any job', async () => {
      const { caller } = await h.newOwner();
      const created = await h.issue(caller, { expires_at: iso(t.clock.now() + HOUR_MS) });
      expect(await h.code(caller, created.token)).toBe('VALID');
      t.clock.advance(HOUR_MS - 1);
      expect(await h.code(caller, created.token)).toBe('VALID');
      t.clock.advance(1);
      expect(await h.verifyBody(caller, created.token)).toMatchObject({
        valid: false,
        code: 'EXPIRED',
        token: { id: created.id, expires_at: created.expires_at },
      });
    });

    it('answers REVOKED once revoked', async () => {
      const { caller } = await h.newOwner();
      const created = await h.issue(caller);
      expect(await h.code(caller, created.token)).toBe('VALID');
      await h.revoke(caller, created.id);
      expect(await h.verifyBody(caller, created.token)).toMatchObject({
        valid: false,
        code: 'REVOKED',
        token: { id: created.id, name: created.name },
      });
    });

    it('answers INSUFFICIENT_SCOPE unless every required scope is held', async () => {
      const { caller, session, ws } = await h.newOwner();
      await t.app.inject({
        method: 'PATCH',
        url: `/v1/workspaces/${ws.slug}/settings`,
        headers: session.headers,
        payload: { custom_scopes: ['orders:read', 'orders:write'] },
      });
      const created = await h.issue(caller, { scopes: ['orders:read', 'tokens:read'] });
      expect(await h.code(caller, created.token, ['orders:read'])).toBe('VALID');
      expect(await h.verifyBody(caller, created.token, ['orders:read', 'orders:write'])).toMatchObject({
        valid: false,
        code: 'INSUFFICIENT_SCOPE',
        token: { id: created.id, scopes: ['orders:read', 'tokens:read'] },
      });
      expect(await h.code(caller, created.token, ['billing:admin'])).toBe('INSUFFICIENT_SCOPE');
    });

    it('applies the precedence NOT_FOUND, REVOKED, EXPIRED, INSUFFICIENT_SCOPE', async () => {
      const { caller } = await h.newOwner();
      const other = await h.newOwner();
      const inHour = iso(t.clock.now() + HOUR_MS);
      const revokedExpired = await h.issue(caller, { expires_at: inHour });
      await h.revoke(caller, revokedExpired.id);
      const expired = await h.issue(caller, { expires_at: inHour });
      const theirsRevoked = await h.issue(other.caller, { expires_at: inHour });
      await h.revoke(other.caller, theirsRevoked.id);
      t.clock.advance(HOUR_MS);
      expect(await h.code(caller, theirsRevoked.token, ['audit:read'])).toBe('NOT_FOUND');
      expect(await h.code(caller, revokedExpired.token, ['audit:read'])).toBe('REVOKED');
      expect(await h.code(caller, expired.token, ['audit:read'])).toBe('EXPIRED');
    });

    it('answers 400 for a missing or non-string token and a malformed body', async () => {
      const { caller } = await h.newOwner();
      const created = await h.issue(caller);
      for (const payload of [
        {},
        { token: null },
        { token: 42 },
        { token: [created.token] },
        { token: created.token, scopes: 'tokens:read' },
        { token: created.token, scopes: [1] },
        { token: created.token, extra: true },
      ]) {
        const res = await h.verify(caller, payload);
        expect(res.statusCode, JSON.stringify(payload)).toBe(400);
        expect(json(res)).toMatchObject({ error: 'bad_request', status: 400 });
        expect(res.body).not.toContain(created.token);
      }
    });

    it('serves sessions of every role, every API key and tokens holding tokens:verify', async () => {
      const { session, ws, caller } = await h.newOwner();
      const created = await h.issue(caller);
      const viewer = await h.newMember(ws, 'viewer');
      const admin = await h.newMember(ws, 'admin');
      const teamAdmin = await h.newKey(session, ws, { name: 'admin-key', kind: 'team' });
      const teamViewer = await h.newKey(session, ws, { name: 'viewer-key', kind: 'team', role: 'viewer' });
      const personal = await h.newKey(viewer, ws, { name: 'mine', kind: 'personal' });
      const verifier = await h.issue(caller, { scopes: ['tokens:verify'] });
      const callers: Caller[] = [
        caller,
        h.viaSession(viewer, ws),
        h.viaSession(admin, ws),
        h.viaBearer(teamAdmin.key),
        h.viaBearer(teamViewer.key),
        h.viaBearer(personal.key),
        h.viaBearer(verifier.token),
        { base: `/v1/workspaces/${ws.slug}`, headers: bearer(verifier.token) },
      ];
      for (const c of callers) expect(await h.code(c, created.token)).toBe('VALID');
      const reader = await h.issue(caller, { scopes: ['tokens:read', 'tokens:write'] });
      const denied = await h.verify(h.viaBearer(reader.token), { token: created.token });
      expect(denied.statusCode).toBe(403);
      expect(json(denied).error).toBe('forbidden');
      expect((await h.verify({ base: '/v1', headers: {} }, { token: created.token })).statusCode).toBe(401);
    });

    it('marks last_used_at only when the usage buffer is flushed, and only for VALID answers', async () => {
      const { caller } = await h.newOwner();
      const used = await h.issue(caller, { scopes: ['tokens:read'] });
      const refused = await h.issue(caller, { scopes: ['tokens:read'] });
      t.clock.advance(1000);
      expect(await h.code(caller, used.token)).toBe('VALID');
      const usedAt = iso(t.clock.now());
      expect(await h.code(caller, refused.token, ['tokens:write'])).toBe('INSUFFICIENT_SCOPE');
      expect(await h.lastUsedAt(caller, used.id)).toBeNull();
      await t.services.usage.flush();
      expect(await h.lastUsedAt(caller, used.id)).toBe(usedAt);
      expect(await h.lastUsedAt(caller, refused.id)).toBeNull();
    });
  });

  describe('tokens as API credentials', () => {
    it('act only within their scopes', async () => {
      const { ws, caller } = await h.newOwner();
      const reader = await h.issue(caller, { scopes: ['tokens:read'] });
      const res = await h.list(h.viaBearer(reader.token));
      expect(res.statusCode).toBe(200);
      expect(json(res).meta.total).toBe(1);
      expect(res.headers['x-ratelimit-limit']).toBe('1000');
      expect(
        (await h.get({ base: `/v1/workspaces/${ws.slug}`, headers: bearer(reader.token) }, reader.id))
          .statusCode,
      ).toBe(200);
      const other = await h.newOwner();
      expectError(
        await h.list({ base: `/v1/workspaces/${other.ws.slug}`, headers: bearer(reader.token) }),
        404,
        'not_found',
      );
      const verifier = await h.issue(caller, { scopes: ['tokens:verify'] });
      expectError(await h.list(h.viaBearer(verifier.token)), 403, 'forbidden');
      expectError(await h.get(h.viaBearer(verifier.token), reader.id), 403, 'forbidden');
    });

    it('answer 403 on settings and API keys whatever their scopes', async () => {
      const { caller } = await h.newOwner();
      const all = await h.issue(caller, {
        scopes: [
          'tokens:read',
          'tokens:write',
          'tokens:revoke',
          'tokens:rotate',
          'tokens:verify',
          'audit:read',
        ],
      });
      const headers = bearer(all.token);
      for (const [method, url, payload] of [
        ['GET', '/v1/settings', undefined],
        ['PATCH', '/v1/settings', { name: 'Taken over' }],
        ['GET', '/v1/api-keys', undefined],
        ['POST', '/v1/api-keys', { name: 'escalate', kind: 'team' }],
      ] as const) {
        const res = await t.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
        expectError(res, 403, 'forbidden');
      }
    });

    it('answer 401 with "Token has expired" once expired', async () => {
      const { caller } = await h.newOwner();
      const created = await h.issue(caller, { expires_at: iso(t.clock.now() + HOUR_MS) });
      expect((await h.list(h.viaBearer(created.token))).statusCode).toBe(200);
      t.clock.advance(HOUR_MS);
      const body = expectError(await h.list(h.viaBearer(created.token)), 401, 'unauthorized');
      expect(body.message).toBe('Token has expired');
    });

    it('answer 401 once their workspace is deleted, even when cached', async () => {
      const { session, ws, caller } = await h.newOwner();
      const created = await h.issue(caller, { scopes: ['tokens:read', 'tokens:verify'] });
      expect((await h.list(h.viaBearer(created.token))).statusCode).toBe(200);
      const deleted = await t.app.inject({
        method: 'DELETE',
        url: `/v1/workspaces/${ws.slug}`,
        headers: session.headers,
        payload: { confirm: ws.slug },
      });
      expect(deleted.statusCode).toBe(204);
      expectError(await h.list(h.viaBearer(created.token)), 401, 'unauthorized');
      expectError(await h.verify(h.viaBearer(created.token), { token: created.token }), 401, 'unauthorized');
    });

    it('answer 401 for an unknown token or a bad checksum', async () => {
      const { caller } = await h.newOwner();
      const created = await h.issue(caller);
      const flipped = `${created.token.slice(0, 10)}${created.token[10] === 'a' ? 'b' : 'a'}${created.token.slice(11)}`;
      for (const secret of [flipped, generateSecret('token')]) {
        const body = expectError(await h.list(h.viaBearer(secret)), 401, 'unauthorized');
        expect(body.message).toBe('Invalid or missing API key');
      }
    });

    it('mark last_used_at once the usage buffer is flushed', async () => {
      const { caller } = await h.newOwner();
      const created = await h.issue(caller);
      t.clock.advance(1000);
      expect((await h.list(h.viaBearer(created.token))).statusCode).toBe(200);
      const usedAt = iso(t.clock.now());
      expect(json(await h.get(caller, created.id)).last_used_at).toBeNull();
      await t.services.usage.flush();
      expect(json(await h.get(caller, created.id)).last_used_at).toBe(usedAt);
    });
  });

  describe('verify with unusual strings', () => {
    it('answers 200 NOT_FOUND for any string, NUL characters and lone surrogates included, and 400 elsewhere', async () => {
      const { session, ws } = await h.newOwner();
      const key = await h.newKey(session, ws, { name: 'strings', kind: 'team' });
      for (const token of ['tkn_\u0000', '\u0000', 'tkn_'.padEnd(44, '\u0000'), '']) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/tokens/verify',
          headers: bearer(key.key),
          payload: { token },
        });
        expect(res.statusCode).toBe(200);
        expect(json(res)).toEqual({ valid: false, code: 'NOT_FOUND', valid_until: null });
      }
      // Lone surrogates too (raw JSON escapes): verify never stores what it is given.
      for (const token of ['tkn_\\ud800', '\\udc00', `tkn_${'a'.repeat(38)}\\ud83d`]) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/tokens/verify',
          headers: { ...bearer(key.key), 'content-type': 'application/json' },
          payload: `{"token":"${token}"}`,
        });
        expect(res.statusCode, token).toBe(200);
        expect(json(res)).toEqual({ valid: false, code: 'NOT_FOUND', valid_until: null });
      }
      const created = await t.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(key.key),
        payload: { name: 'nul\u0000name', scopes: ['tokens:read'] },
      });
      expect(created.statusCode).toBe(400);
      const surrogate = await t.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: { ...bearer(key.key), 'content-type': 'application/json' },
        payload: '{"name":"x\\ud800","scopes":["tokens:read"]}',
      });
      expect(surrogate.statusCode).toBe(400);
    });
  });

  describe('what counts as a use', () => {
    const lastUsed = async (table: 'tokens' | 'api_keys', id: string) =>
      (
        await t.services.db
          .selectFrom(table)
          .select('last_used_at')
          .where('id', '=', id)
          .executeTakeFirstOrThrow()
      ).last_used_at;

    it('records a token or key as used only when the call it made was allowed', async () => {
      const { session, ws } = await h.newOwner();
      const viewerKey = await h.newKey(session, ws, { name: 'viewer', kind: 'team', role: 'viewer' });
      const adminKey = await h.newKey(session, ws, { name: 'admin', kind: 'team' });
      const token = await h.issue(h.viaBearer(adminKey.key), { name: 'reader', scopes: ['tokens:read'] });

      // Refused calls: a token without the scope, a viewer key creating a token.
      expect(
        (await t.app.inject({ method: 'GET', url: '/v1/audit-logs', headers: bearer(token.token) }))
          .statusCode,
      ).toBe(403);
      const refused = await t.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(viewerKey.key),
        payload: { name: 'nope', scopes: ['tokens:read'] },
      });
      expect(refused.statusCode).toBe(403);
      await t.services.usage.flush();
      expect(await lastUsed('tokens', token.id)).toBeNull();
      expect(await lastUsed('api_keys', viewerKey.id)).toBeNull();

      // Allowed calls count.
      t.clock.advance(1000);
      expect(
        (await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(token.token) })).statusCode,
      ).toBe(200);
      expect(
        (await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(viewerKey.key) })).statusCode,
      ).toBe(200);
      await t.services.usage.flush();
      expect(await lastUsed('tokens', token.id)).toBe(t.clock.now());
      expect(await lastUsed('api_keys', viewerKey.id)).toBe(t.clock.now());
    });
  });

  describe('the usage buffer', () => {
    it('writes hundreds of last-use times in chunks and never moves one backwards', async () => {
      const { ws } = await h.newOwner();
      // Start from an empty buffer: earlier tests of this app may have left uses in it.
      await t.services.usage.flush();
      const now = t.clock.now();
      const rows = Array.from({ length: 600 }, (_, i) => ({
        id: `tok_usage${String(i).padStart(19, '0')}`,
        workspace_id: ws.id,
        name: `usage-${i}`,
        name_lower: `usage-${i}`,
        scopes: '["tokens:read"]',
        metadata: '{}',
        hint: 'tkn_AAAA…AA',
        created_at: now,
        created_by: 'test',
        created_by_id: 'test',
        expires_at: null,
        revoked_at: null,
        rotated_at: null,
        last_used_at: i === 0 ? now + 10_000 : null,
        expired_recorded_at: null,
        expiring_7d_at: null,
        expiring_1d_at: null,
      }));
      for (let i = 0; i < rows.length; i += 100)
        await t.services.db
          .insertInto('tokens')
          .values(rows.slice(i, i + 100))
          .execute();
      for (const [i, row] of rows.entries()) t.services.usage.tokenUsed(row.id, now + i);
      expect(t.services.usage.pending()).toBe(600);
      await t.services.usage.flush();
      expect(t.services.usage.pending()).toBe(0);
      const stored = await t.services.db
        .selectFrom('tokens')
        .select(['id', 'last_used_at'])
        .where('workspace_id', '=', ws.id)
        .execute();
      const byId = new Map(stored.map((r) => [r.id, r.last_used_at]));
      expect(byId.get(rows[0]?.id ?? '')).toBe(now + 10_000); // a later time already stored is kept
      for (const [i, row] of rows.entries()) if (i > 0) expect(byId.get(row.id)).toBe(now + i);
    });
  });

  it('never writes a secret issued in this file to the audit log or the outbox', async () => {
    expect(h.issued.length).toBeGreaterThan(10);
    const rows = [
      ...(await t.services.db.selectFrom('audit_log').selectAll().execute()),
      ...(await t.services.db.selectFrom('outbox_events').selectAll().execute()),
    ];
    const text = rows.map((row) => JSON.stringify(row)).join('\n');
    for (const secret of h.issued) {
      expect(text.includes(secret.replace(/^(tkn_|tok_live_)/, '')), `${secret.slice(0, 8)}… leaked`).toBe(
        false,
      );
    }
  });
});

describe.each(dialects())('%s: the verification budget', (dialect) => {
  let t: TestApp;
  const h = harness(() => t);
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_VERIFY_RATE_LIMIT_PER_MINUTE: '2' });
  });
  afterAll(() => t.close());
  const nextWindow = () => t.clock.now() - (t.clock.now() % 60_000) + 60_000;

  it('answers RATE_LIMITED past the budget, with the verification budget’s headers', async () => {
    const { caller } = await h.newOwner();
    const created = await h.issue(caller, { scopes: ['tokens:read'] });
    const reset = String(Math.ceil((t.clock.now() - (t.clock.now() % 60_000) + 60_000) / 1000));
    const remaining: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await h.verify(caller, { token: created.token });
      expect(json(res).code).toBe('VALID');
      expect(res.headers['x-ratelimit-limit']).toBe('2');
      expect(res.headers['x-ratelimit-reset']).toBe(reset);
      remaining.push(String(res.headers['x-ratelimit-remaining']));
    }
    expect(remaining).toEqual(['1', '0']);
    const limited = await h.verify(caller, { token: created.token });
    expect(limited.statusCode).toBe(200);
    expect(json(limited)).toEqual({
      valid: false,
      code: 'RATE_LIMITED',
      token: {
        id: created.id,
        name: created.name,
        scopes: ['tokens:read'],
        expires_at: created.expires_at,
        metadata: {},
        external_id: null,
      },
      valid_until: null,
    });
    expect(limited.headers).toMatchObject({
      'x-ratelimit-limit': '2',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': reset,
    });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // The management budget is separate.
    const listed = await t.app.inject({
      method: 'GET',
      url: `${caller.base}/tokens`,
      headers: caller.headers,
    });
    expect(listed.statusCode).toBe(200);
    expect(listed.headers['x-ratelimit-limit']).toBe('1000');
    // A new window restores the budget.
    t.clock.advance(60_000);
    expect(await h.code(caller, created.token)).toBe('VALID');
  });

  it('still answers NOT_FOUND, REVOKED and EXPIRED ahead of RATE_LIMITED, and INSUFFICIENT_SCOPE after it', async () => {
    const { caller } = await h.newOwner();
    const live = await h.issue(caller);
    const revoked = await h.issue(caller);
    await h.revoke(caller, revoked.id);
    const expired = await h.issue(caller, { expires_at: iso(t.clock.now() + 1000) });
    t.clock.set(nextWindow()); // a fresh window, past expiry
    expect(await h.code(caller, live.token)).toBe('VALID');
    expect(await h.code(caller, live.token)).toBe('VALID');
    expect(await h.code(caller, revoked.token)).toBe('REVOKED');
    expect(await h.code(caller, expired.token)).toBe('EXPIRED');
    expect(await h.code(caller, generateSecret('token'))).toBe('NOT_FOUND');
    expect(await h.code(caller, live.token, ['audit:read'])).toBe('RATE_LIMITED');
  });

  it('keeps a separate budget per workspace', async () => {
    const a = await h.newOwner();
    const b = await h.newOwner();
    const tokenA = await h.issue(a.caller);
    const tokenB = await h.issue(b.caller);
    t.clock.set(nextWindow());
    for (let i = 0; i < 2; i++) expect(await h.code(a.caller, tokenA.token)).toBe('VALID');
    expect(await h.code(a.caller, tokenA.token)).toBe('RATE_LIMITED');
    expect(await h.code(b.caller, tokenB.token)).toBe('VALID');
  });
});

describe.each(dialects())('%s: verification writes nothing', (dialect) => {
  let t: TestApp;
  const h = harness(() => t);
  const statements: string[] = [];
  beforeAll(async () => {
    t = await createTestApp(dialect, {}, { onQuery: (sql) => statements.push(sql) });
  });
  afterAll(() => t.close());

  it('runs no insert, update or delete for a burst of verifications by every kind of caller', async () => {
    const { session, ws, caller } = await h.newOwner();
    const valid = await h.issue(caller, { scopes: ['tokens:read'] });
    const revoked = await h.issue(caller);
    await h.revoke(caller, revoked.id);
    const expiring = await h.issue(caller, { expires_at: iso(t.clock.now() + HOUR_MS) });
    const verifier = await h.issue(caller, { scopes: ['tokens:verify'] });
    const key = await h.newKey(session, ws, { name: 'ci', kind: 'team', role: 'viewer' });
    const unknown = generateSecret('token');
    const callers = [caller, h.viaBearer(key.key), h.viaBearer(verifier.token)];
    const presented: Array<[string, string[] | undefined, string]> = [
      [valid.token, undefined, 'VALID'],
      [valid.token, ['tokens:write'], 'INSUFFICIENT_SCOPE'],
      [revoked.token, undefined, 'REVOKED'],
      [unknown, undefined, 'NOT_FOUND'],
      [flipOneCharacter(valid.token), undefined, 'NOT_FOUND'],
    ];
    // Warm up: caches and buffers see every caller and secret once, then the buffer is flushed.
    for (const c of callers) {
      for (const [token, scopes, code] of presented) expect(await h.code(c, token, scopes)).toBe(code);
      expect(await h.code(c, expiring.token)).toBe('VALID');
    }
    await t.services.usage.flush();
    t.clock.advance(HOUR_MS);
    statements.length = 0;

    for (let round = 0; round < 10; round++) {
      for (const c of callers) {
        for (const [token, scopes, code] of presented) expect(await h.code(c, token, scopes)).toBe(code);
        expect(await h.code(c, expiring.token)).toBe('EXPIRED');
      }
    }
    expect(statements.length).toBeGreaterThan(0);
    expect(statements.filter((sql) => WRITE.test(sql))).toEqual([]);
    // Served from the in-process cache: no secret lookups once warm.
    expect(statements.filter((sql) => sql.includes('token_secrets'))).toEqual([]);
  });

  it('ignores an Idempotency-Key: nothing is stored and a revocation is never hidden by a replay', async () => {
    const { caller } = await h.newOwner();
    const created = await h.issue(caller);
    const verify = () =>
      t.app.inject({
        method: 'POST',
        url: `${caller.base}/tokens/verify`,
        headers: { ...caller.headers, 'idempotency-key': 'verify-1' },
        payload: { token: created.token },
      });
    statements.length = 0;
    expect(json(await verify()).code).toBe('VALID');
    expect(statements.filter((sql) => WRITE.test(sql))).toEqual([]);
    await h.revoke(caller, created.id);
    const again = await verify();
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(json(again).code).toBe('REVOKED');
  });

  it('does not look up a secret whose checksum is wrong', async () => {
    const { caller } = await h.newOwner();
    const created = await h.issue(caller);
    statements.length = 0;
    for (let i = 0; i < 5; i++) {
      expect(await h.code(caller, flipOneCharacter(generateSecret('token')))).toBe('NOT_FOUND');
    }
    expect(statements.filter((sql) => sql.includes('token_secrets'))).toEqual([]);
    expect(await h.code(caller, created.token)).toBe('VALID');
  });

  it('writes last_used_at only when the usage buffer is flushed', async () => {
    const { caller } = await h.newOwner();
    const created = await h.issue(caller);
    t.clock.advance(1000);
    statements.length = 0;
    expect(await h.code(caller, created.token)).toBe('VALID');
    const usedAt = iso(t.clock.now());
    expect(statements.filter((sql) => WRITE.test(sql))).toEqual([]);
    expect(await h.lastUsedAt(caller, created.id)).toBeNull();
    await t.services.usage.flush();
    expect(statements.some((sql) => /^\s*update\s+"tokens"/i.test(sql) && sql.includes('last_used_at'))).toBe(
      true,
    );
    expect(await h.lastUsedAt(caller, created.id)).toBe(usedAt);
  });
});

describe.each(dialects())('%s: the usage flush', (dialect) => {
  let t: TestApp;
  const statements: string[] = [];
  beforeAll(async () => {
    t = await createTestApp(dialect, {}, { onQuery: (sql) => statements.push(sql) });
  });
  afterAll(() => t.close());

  it('reads who listens for token.used once per flush, and opens no transaction when nobody does', async () => {
    // 1,000 used tokens: four chunks of 250 for the events (the ids need not exist: nothing matches).
    for (let i = 0; i < 1000; i++)
      t.services.usage.tokenUsed(`tok_flush${String(i).padStart(4, '0')}`, t.clock.now());
    statements.length = 0;
    await t.services.usage.flush();
    expect(statements.filter((sql) => /from\s+"webhooks"/i.test(sql))).toHaveLength(1);
    // The only transaction left is PostgreSQL's for the last-use times (1,000 rows per
    // transaction); on SQLite the worker thread writes them. Before: one more per chunk of 250.
    expect(statements.filter((sql) => /^\s*begin/i.test(sql))).toHaveLength(dialect === 'postgres' ? 1 : 0);
  });
});

describe.each(dialects())('%s: a flood of forged secrets', (dialect) => {
  let t: TestApp;
  const h = harness(() => t);
  const statements: string[] = [];
  // Small caches, so a test can fill them: 20 found entries, and 5 remembered misses kept apart.
  const FLOOD = 60;
  beforeAll(async () => {
    t = await createTestApp(
      dialect,
      {},
      {
        onQuery: (sql) => statements.push(sql),
        cacheSizes: { tokens: { hits: 20, misses: 5 }, credentials: { hits: 20, misses: 5 } },
      },
    );
  });
  afterAll(() => t.close());

  const reads = (table: string) => statements.filter((sql) => sql.includes(`"${table}"`));

  /**
   * On PostgreSQL a node also hears its own invalidation notices back, a moment after the change
   * answered; one arriving during a read rightly keeps that read out of the cache. Notices arrive
   * in commit order, so once a marker published now is heard, every earlier one has been too.
   */
  async function noticesHeard(): Promise<void> {
    if (dialect !== 'postgres') return;
    const marker = `marker-${suffix()}`;
    const heard = new Promise<void>((resolve) =>
      t.services.notifier.subscribe((notice) => {
        if (notice.type === 'workspace.changed' && notice.ids.includes(marker)) resolve();
      }),
    );
    await t.services.notifier.publish(t.services.db, { type: 'workspace.changed', ids: [marker] });
    await heard;
  }

  it('cannot push a real token out of the verify cache', async () => {
    const { session, ws, caller } = await h.newOwner();
    const key = await h.newKey(session, ws, { name: 'verifier', kind: 'team', role: 'viewer' });
    const real = await h.issue(caller);
    await noticesHeard();
    expect(await h.code(h.viaBearer(key.key), real.token)).toBe('VALID');

    // Secrets with a valid checksum, so each one is looked up: through verify and as a bearer.
    statements.length = 0;
    const forged = Array.from({ length: FLOOD }, () => generateSecret('token'));
    for (const [i, secret] of forged.entries()) {
      if (i % 2 === 0) {
        expect(await h.code(h.viaBearer(key.key), secret)).toBe('NOT_FOUND');
      } else {
        const res = await h.list(h.viaBearer(secret));
        expectError(res, 401, 'unauthorized');
      }
    }
    expect(reads('token_secrets')).toHaveLength(FLOOD);

    statements.length = 0;
    expect(await h.code(h.viaBearer(key.key), real.token)).toBe('VALID');
    expect(reads('token_secrets')).toEqual([]);
    // Misses are still remembered, within their own bound: the latest forgery costs no lookup.
    expect(await h.code(h.viaBearer(key.key), forged[FLOOD - 2] ?? '')).toBe('NOT_FOUND');
    expect(reads('token_secrets')).toEqual([]);
  });

  it('cannot push a real API key out of the credential cache', async () => {
    const { session, ws } = await h.newOwner();
    const key = await h.newKey(session, ws, { name: 'ci', kind: 'team' });
    const settings = (secret: string) =>
      t.app.inject({ method: 'GET', url: '/v1/settings', headers: bearer(secret) });
    await noticesHeard();
    expect((await settings(key.key)).statusCode).toBe(200);
    statements.length = 0;
    for (let i = 0; i < FLOOD; i++) {
      expectError(await settings(generateSecret('api_key')), 401, 'unauthorized');
    }
    expect(reads('api_keys')).toHaveLength(FLOOD);

    statements.length = 0;
    expect((await settings(key.key)).statusCode).toBe(200);
    expect(reads('api_keys')).toEqual([]);
  });
});

describe.skipIf(!dialects().includes('postgres'))('postgres: two nodes sharing one database', () => {
  let a: TestApp;
  let b: TestApp;
  const h = harness(() => a);
  beforeAll(async () => {
    a = await createTestApp('postgres');
    b = await createTestApp('postgres', {}, { databaseUrl: a.services.config.databaseUrl });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('honours on the other node, within a second, a revocation and a rotation made on one', async () => {
    const { caller } = await h.newOwner();
    const revoked = await h.issue(caller, { scopes: ['tokens:read'] });
    const rotated = await h.issue(caller);
    const onB = async (token: string) =>
      json(
        await b.app.inject({
          method: 'POST',
          url: `${caller.base}/tokens/verify`,
          headers: caller.headers,
          payload: { token },
        }),
      ).code;
    const listOnB = (token: string) =>
      b.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(token) });
    // Node B caches both secrets as valid.
    expect(await onB(revoked.token)).toBe('VALID');
    expect(await onB(rotated.token)).toBe('VALID');
    expect((await listOnB(revoked.token)).statusCode).toBe(200);

    await h.revoke(caller, revoked.id);
    const res = await a.app.inject({
      method: 'POST',
      url: `${caller.base}/tokens/${rotated.id}/rotate`,
      headers: caller.headers,
      payload: { grace_period_seconds: 0 },
    });
    expect(res.statusCode).toBe(200);
    h.issued.push(json(res).token);
    await vi.waitFor(
      async () => {
        expect(await onB(revoked.token)).toBe('REVOKED');
        expect(await onB(rotated.token)).toBe('NOT_FOUND');
      },
      { timeout: 1000, interval: 10 },
    );
    expect((await listOnB(revoked.token)).statusCode).toBe(401);
    expect(await onB(json(res).token)).toBe('VALID');
  });
});
