import { createHash, randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iso } from '../../src/clock.js';
import {
  addMember,
  auditRows as auditRowsIn,
  bearer,
  createApiKey,
  createTestApp,
  dialects,
  expectError,
  type Json,
  json,
  outboxRows as outboxRowsIn,
  ownerWorkspace,
  type Session,
  signup,
  type TestApp,
} from '../helpers.js';

const TOKEN_PATTERN = /^tkn_[0-9A-Za-z]{40}$/;
const TOKEN_FIELDS = [
  'created_at',
  'created_by',
  'created_by_id',
  'expires_at',
  'external_id',
  'hint',
  'id',
  'last_used_at',
  'limits',
  'metadata',
  'name',
  'revoked_at',
  'rotated_at',
  'scopes',
  'status',
];
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const suffix = () => randomBytes(3).toString('hex');

describe.each(dialects())('%s: tokens', (dialect) => {
  let t: TestApp;
  /** Every secret (token or API key) handed out in this file: none may reach the audit log or outbox. */
  const issued: string[] = [];
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  async function newMember(ws: Json, role: 'owner' | 'admin' | 'viewer'): Promise<Session> {
    const session = await signup(t.app);
    await addMember(t.services, ws.id, session.user.id, role);
    return session;
  }

  async function newKey(session: Session, ws: Json, payload: Json): Promise<Json> {
    const key = await createApiKey(t.app, session, ws.slug, payload);
    issued.push(key.key);
    return key;
  }

  interface Caller {
    base: string;
    headers: Record<string, string>;
  }
  const viaSession = (session: Session, ws: Json): Caller => ({
    base: `/v1/workspaces/${ws.slug}`,
    headers: session.headers,
  });
  const viaBearer = (secret: string): Caller => ({ base: '/v1', headers: bearer(secret) });

  async function create(caller: Caller, payload: Json): Promise<LightMyRequestResponse> {
    const res = await t.app.inject({
      method: 'POST',
      url: `${caller.base}/tokens`,
      headers: caller.headers,
      payload,
    });
    if (res.statusCode === 201) issued.push(json(res).token);
    return res;
  }
  const list = (caller: Caller, query = '') =>
    t.app.inject({ method: 'GET', url: `${caller.base}/tokens${query}`, headers: caller.headers });
  const get = (caller: Caller, id: string) =>
    t.app.inject({ method: 'GET', url: `${caller.base}/tokens/${id}`, headers: caller.headers });
  const revoke = (caller: Caller, id: string) =>
    t.app.inject({ method: 'DELETE', url: `${caller.base}/tokens/${id}`, headers: caller.headers });
  async function rotate(caller: Caller, id: string, payload?: Json): Promise<LightMyRequestResponse> {
    const res = await t.app.inject({
      method: 'POST',
      url: `${caller.base}/tokens/${id}/rotate`,
      headers: caller.headers,
      ...(payload === undefined ? {} : { payload }),
    });
    if (res.statusCode === 200) issued.push(json(res).token);
    return res;
  }
  async function verifyCode(caller: Caller, token: string, scopes?: string[]): Promise<string> {
    const res = await t.app.inject({
      method: 'POST',
      url: `${caller.base}/tokens/verify`,
      headers: caller.headers,
      payload: scopes === undefined ? { token } : { token, scopes },
    });
    expect(res.statusCode, res.body).toBe(200);
    return json(res).code;
  }
  const patchSettings = (session: Session, ws: Json, payload: Json) =>
    t.app.inject({
      method: 'PATCH',
      url: `/v1/workspaces/${ws.slug}/settings`,
      headers: session.headers,
      payload,
    });

  /** Creates a token and returns its object with the secret in `token`. */
  async function issue(caller: Caller, payload: Json = {}): Promise<Json> {
    const res = await create(caller, { name: `token-${suffix()}`, scopes: ['tokens:read'], ...payload });
    expect(res.statusCode, res.body).toBe(201);
    return json(res);
  }

  const auditRows = (workspaceId: string, event: string) => auditRowsIn(t.services, workspaceId, event);
  const outboxRows = (workspaceId: string, event: string) => outboxRowsIn(t.services, workspaceId, event);

  describe('POST /tokens', () => {
    it('creates a token with a session and returns the secret once, in the documented shape', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const res = await create(caller, {
        name: 'backend-prod',
        scopes: ['tokens:read', 'tokens:verify'],
        metadata: { team: 'payments', tier: 2 },
      });
      expect(res.statusCode, res.body).toBe(201);
      const body = json(res);
      expect(Object.keys(body).sort()).toEqual([...TOKEN_FIELDS, 'token'].sort());
      expect(body.token).toMatch(TOKEN_PATTERN);
      expect(body.id).toMatch(/^tok_[0-9a-z]{24}$/);
      expect(body).toMatchObject({
        name: 'backend-prod',
        scopes: ['tokens:read', 'tokens:verify'],
        status: 'active',
        created_at: iso(t.clock.now()),
        expires_at: iso(t.clock.now() + 90 * DAY_MS),
        last_used_at: null,
        revoked_at: null,
        rotated_at: null,
        created_by: session.user.email,
        created_by_id: session.user.id,
        metadata: { team: 'payments', tier: 2 },
        hint: `tkn_${body.token.slice(4, 8)}…${body.token.slice(-2)}`,
      });

      const { token: _, ...withoutSecret } = body;
      const fetched = await get(caller, body.id);
      expect(fetched.statusCode).toBe(200);
      expect(json(fetched)).toEqual(withoutSecret);
      expect(fetched.body).not.toContain(body.token);
      const listed = await list(caller);
      expect(json(listed).data).toEqual([withoutSecret]);
      expect(listed.body).not.toContain(body.token);
    });

    it('stores only the SHA-256 digest of the secret', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const created = await issue(viaSession(session, ws));
      const body = created.token.slice(4);
      const tokenRow = await t.services.db
        .selectFrom('tokens')
        .selectAll()
        .where('id', '=', created.id)
        .execute();
      const secretRows = await t.services.db
        .selectFrom('token_secrets')
        .selectAll()
        .where('token_id', '=', created.id)
        .execute();
      expect(secretRows).toEqual([{ digest: sha256(created.token), token_id: created.id, retires_at: null }]);
      for (const row of [...tokenRow, ...secretRows]) {
        const text = JSON.stringify(row);
        expect(text).not.toContain(created.token);
        expect(text).not.toContain(body);
        expect(text).not.toContain(body.slice(0, 20));
      }
    });

    it('names a team key, a personal key and a token as the creator', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const team = await newKey(session, ws, { name: 'CI deploy', kind: 'team' });
      const personal = await newKey(session, ws, { name: 'laptop', kind: 'personal' });
      const byTeam = await issue(viaBearer(team.key));
      expect(byTeam).toMatchObject({ created_by: 'CI deploy', created_by_id: team.id });
      const byPersonal = await issue(viaBearer(personal.key));
      expect(byPersonal).toMatchObject({ created_by: session.user.email, created_by_id: session.user.id });
      const minter = await issue(viaSession(session, ws), { name: 'minter', scopes: ['tokens:write'] });
      const byToken = await issue(viaBearer(minter.token), { scopes: ['tokens:write'] });
      expect(byToken).toMatchObject({ created_by: 'minter', created_by_id: minter.id });
    });

    it('answers the same on /v1/tokens with a key as on the slug path', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const key = await newKey(session, ws, { name: 'ci', kind: 'team' });
      const created = await issue({ base: `/v1/workspaces/${ws.slug}`, headers: bearer(key.key) });
      expect(json(await get(viaBearer(key.key), created.id)).id).toBe(created.id);
      const other = await ownerWorkspace(t.app);
      expectError(
        await create(
          { base: `/v1/workspaces/${other.ws.slug}`, headers: bearer(key.key) },
          { name: 'x', scopes: ['tokens:read'] },
        ),
        404,
        'not_found',
      );
    });

    it('keeps names 1 to 100 characters and unique case-insensitively within the workspace', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      for (const name of ['', 'x'.repeat(101)]) {
        const body = expectError(await create(caller, { name, scopes: ['tokens:read'] }), 400, 'bad_request');
        expect(body.details[0].field).toBe('name');
      }
      expectError(await create(caller, { scopes: ['tokens:read'] }), 400, 'bad_request');
      await issue(caller, { name: 'x'.repeat(100) });
      await issue(caller, { name: 'Backend-Prod' });
      expectError(await create(caller, { name: 'backend-PROD', scopes: ['tokens:read'] }), 409, 'conflict');
      // Another workspace may use the same name.
      const other = await ownerWorkspace(t.app);
      await issue(viaSession(other.session, other.ws), { name: 'backend-prod' });
    });

    it('rejects empty and unknown scopes with 400 and removes duplicates', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const empty = expectError(await create(caller, { name: 'a', scopes: [] }), 400, 'bad_request');
      expect(empty.details[0].field).toBe('scopes');
      const unknown = expectError(
        await create(caller, { name: 'a', scopes: ['tokens:read', 'orders:write'] }),
        400,
        'bad_request',
      );
      expect(unknown.details).toEqual([{ field: 'scopes[1]', message: expect.any(String) }]);
      expectError(await create(caller, { name: 'a', scopes: 'tokens:read' }), 400, 'bad_request');
      const deduplicated = await issue(caller, { scopes: ['tokens:read', 'tokens:verify', 'tokens:read'] });
      expect(deduplicated.scopes).toEqual(['tokens:read', 'tokens:verify']);
    });

    it('accepts a custom scope of the workspace and verify returns it', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      expectError(await create(caller, { name: 'svc', scopes: ['orders:write'] }), 400, 'bad_request');
      expect(
        (await patchSettings(session, ws, { custom_scopes: ['orders:write', 'orders:read'] })).statusCode,
      ).toBe(200);
      const created = await issue(caller, { name: 'svc', scopes: ['orders:write', 'tokens:read'] });
      expect(created.scopes).toEqual(['orders:write', 'tokens:read']);
      const res = await t.app.inject({
        method: 'POST',
        url: `${caller.base}/tokens/verify`,
        headers: caller.headers,
        payload: { token: created.token, scopes: ['orders:write'] },
      });
      expect(json(res)).toMatchObject({
        valid: true,
        code: 'VALID',
        token: { scopes: ['orders:write', 'tokens:read'] },
      });
      // A custom scope of another workspace is unknown here.
      const other = await ownerWorkspace(t.app);
      expectError(
        await create(viaSession(other.session, other.ws), { name: 'svc', scopes: ['orders:write'] }),
        400,
        'bad_request',
      );
    });

    it('sets expires_at from the workspace default when it is absent, and never when the default is null', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      expect((await patchSettings(session, ws, { default_token_expiration_days: 30 })).statusCode).toBe(200);
      expect((await issue(caller)).expires_at).toBe(iso(t.clock.now() + 30 * DAY_MS));
      expect((await patchSettings(session, ws, { default_token_expiration_days: null })).statusCode).toBe(
        200,
      );
      expect((await issue(caller)).expires_at).toBeNull();
    });

    it('never expires with an explicit null and keeps an explicit future instant', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      expect((await issue(caller, { expires_at: null })).expires_at).toBeNull();
      expect((await issue(caller, { expires_at: '2027-01-01T00:00:00Z' })).expires_at).toBe(
        '2027-01-01T00:00:00.000Z',
      );
      expect((await issue(caller, { expires_at: '2028-02-29T23:59:59.5Z' })).expires_at).toBe(
        '2028-02-29T23:59:59.500Z',
      );
      expect((await issue(caller, { expires_at: '2027-01-01T02:30:00+02:00' })).expires_at).toBe(
        '2027-01-01T00:30:00.000Z',
      );
    });

    it('answers 422 for an expires_at that does not parse or is not in the future', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const now = t.clock.now();
      for (const expires_at of [
        'tomorrow',
        '2027-13-45T00:00:00Z',
        '2027-02-30T00:00:00Z',
        '2027-02-29T00:00:00Z',
        '2027-04-31T12:00:00Z',
        '2027-01-01T24:00:00Z',
        '2027-01-01',
        iso(now - 1000),
        iso(now),
      ]) {
        const body = expectError(
          await create(caller, { name: `n-${suffix()}`, scopes: ['tokens:read'], expires_at }),
          422,
          'unprocessable_entity',
        );
        expect(body.details[0].field, expires_at).toBe('expires_at');
      }
      expectError(
        await create(caller, { name: 'n', scopes: ['tokens:read'], expires_at: 1_900_000_000_000 }),
        400,
        'bad_request',
      );
      expect(json(await list(caller)).meta.total).toBe(0);
    });

    it('keeps metadata an object of at most 4 KiB', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const nested = { a: { b: [1, 'two', null, { c: true }] } };
      expect((await issue(caller, { metadata: nested })).metadata).toEqual(nested);
      expect((await issue(caller)).metadata).toEqual({});
      const fits = { blob: 'x'.repeat(4096 - '{"blob":""}'.length) };
      expect(Buffer.byteLength(JSON.stringify(fits))).toBe(4096);
      await issue(caller, { metadata: fits });
      const tooBig = expectError(
        await create(caller, {
          name: 'big',
          scopes: ['tokens:read'],
          metadata: { blob: 'x'.repeat(5 * 1024) },
        }),
        400,
        'bad_request',
      );
      expect(tooBig.details[0].field).toBe('metadata');
      for (const metadata of [[1, 2], 'text', 7, null]) {
        const body = expectError(
          await create(caller, { name: 'bad', scopes: ['tokens:read'], metadata }),
          400,
          'bad_request',
        );
        expect(body.details[0].field).toBe('metadata');
      }
    });

    it('answers 400, not 500, for metadata nested far too deep to serialise', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      for (const [open, close] of [
        ['{"a":', '}'],
        ['[', ']'],
      ] as const) {
        const depth = 150_000;
        const metadata = `{"x":${open.repeat(depth)}1${close.repeat(depth)}}`;
        const res = await t.app.inject({
          method: 'POST',
          url: `${caller.base}/tokens`,
          headers: { ...caller.headers, 'content-type': 'application/json' },
          payload: `{"name":"deep","scopes":["tokens:read"],"metadata":${metadata}}`,
        });
        expect(expectError(res, 400, 'bad_request').details[0].field).toBe('metadata');
      }
      const fits = JSON.parse(`${'{"a":'.repeat(200)}1${'}'.repeat(200)}`);
      expect((await issue(caller, { metadata: fits })).metadata).toEqual(fits);
    });

    it('rejects an unknown field with 400', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const body = expectError(
        await create(viaSession(session, ws), { name: 'a', scopes: ['tokens:read'], secret: 'mine' }),
        400,
        'bad_request',
      );
      expect(body.details[0].field).toBe('secret');
    });

    it('lets an admin create but answers 403 to a viewer session and a viewer team key', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const admin = await newMember(ws, 'admin');
      await issue(viaSession(admin, ws));
      const viewer = await newMember(ws, 'viewer');
      expectError(
        await create(viaSession(viewer, ws), { name: 'v', scopes: ['tokens:read'] }),
        403,
        'forbidden',
      );
      const viewerKey = await newKey(session, ws, { name: 'ro', kind: 'team', role: 'viewer' });
      expectError(
        await create(viaBearer(viewerKey.key), { name: 'v', scopes: ['tokens:read'] }),
        403,
        'forbidden',
      );
      const viewerPersonal = await newKey(viewer, ws, { name: 'mine', kind: 'personal' });
      expectError(
        await create(viaBearer(viewerPersonal.key), { name: 'v', scopes: ['tokens:read'] }),
        403,
        'forbidden',
      );
      expect(json(await list(viaSession(session, ws))).meta.total).toBe(1);
    });

    it('lets a token with tokens:write mint only scopes it holds, built-in or custom', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      await patchSettings(session, ws, { custom_scopes: ['orders:write'] });
      const minter = await issue(viaSession(session, ws), {
        scopes: ['tokens:write', 'tokens:verify', 'orders:write'],
      });
      const asMinter = viaBearer(minter.token);
      await issue(asMinter, { scopes: ['tokens:verify'] });
      await issue(asMinter, { scopes: ['tokens:write', 'orders:write'] });
      for (const scopes of [['tokens:read'], ['tokens:verify', 'tokens:revoke'], ['audit:read']]) {
        expectError(await create(asMinter, { name: `e-${suffix()}`, scopes }), 403, 'forbidden');
      }
      const reader = await issue(viaSession(session, ws), { scopes: ['tokens:read'] });
      expectError(
        await create(viaBearer(reader.token), { name: 'r', scopes: ['tokens:read'] }),
        403,
        'forbidden',
      );
      expect(json(await list(viaSession(session, ws))).meta.total).toBe(4);
    });

    // A custom scope grants nothing inside Tooken, but the workspace's own services honour it.
    it('refuses a token minting a token with a custom scope it does not hold', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      await patchSettings(session, ws, { custom_scopes: ['orders:write'] });
      const minter = await issue(viaSession(session, ws), { scopes: ['tokens:write'] });
      const res = await create(viaBearer(minter.token), { name: 'orders', scopes: ['orders:write'] });
      expectError(res, 403, 'forbidden');
      expect(json(await list(viaSession(session, ws))).meta.total).toBe(1);
    });

    // Refused or capped: either way no child outlives its creator (tokens-by-tokens.test.ts pins which).
    it('never lets a token mint a token that outlives it', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const expiresAt = iso(t.clock.now() + DAY_MS);
      const minter = await issue(viaSession(session, ws), {
        scopes: ['tokens:write', 'tokens:read'],
        expires_at: expiresAt,
      });
      for (const expiry of [{ expires_at: null }, {}, { expires_at: iso(t.clock.now() + 2 * DAY_MS) }]) {
        const res = await create(viaBearer(minter.token), {
          name: `child-${suffix()}`,
          scopes: ['tokens:read'],
          ...expiry,
        });
        expect(res.statusCode, res.body).toBeLessThan(500);
        if (res.statusCode === 201) {
          expect(json(res).expires_at).not.toBeNull();
          expect(Date.parse(json(res).expires_at)).toBeLessThanOrEqual(Date.parse(expiresAt));
        } else {
          expect(res.statusCode).toBeGreaterThanOrEqual(400);
        }
      }
    });
  });

  describe('GET /tokens', () => {
    it('lists newest first with pagination meta', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const ids: string[] = [];
      for (const name of ['first', 'second', 'third']) {
        ids.push((await issue(caller, { name })).id);
        t.clock.advance(1000);
      }
      const page1 = json(await list(caller, '?per_page=2'));
      expect(page1.meta).toEqual({ page: 1, per_page: 2, total: 3 });
      expect(page1.data.map((x: Json) => x.name)).toEqual(['third', 'second']);
      const page2 = json(await list(caller, '?page=2&per_page=2'));
      expect(page2.data.map((x: Json) => x.id)).toEqual([ids[0]]);
      expect(json(await list(caller, '?page=3&per_page=2'))).toEqual({
        data: [],
        meta: { page: 3, per_page: 2, total: 3 },
      });
      expect(json(await list(caller)).meta).toEqual({ page: 1, per_page: 25, total: 3 });
      for (const query of ['?page=0', '?per_page=0', '?per_page=101', '?status=dead', '?colour=red']) {
        expectError(await list(caller, query), 400, 'bad_request');
      }
    });

    it('filters by the status computed from the clock', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const forever = await issue(caller, { name: 'forever', expires_at: null });
      const later = await issue(caller, { name: 'later' });
      const soon = await issue(caller, { name: 'soon', expires_at: iso(t.clock.now() + HOUR_MS) });
      const revoked = await issue(caller, { name: 'revoked', expires_at: iso(t.clock.now() + HOUR_MS) });
      expect((await revoke(caller, revoked.id)).statusCode).toBe(204);
      const names = async (query: string) => {
        const body = json(await list(caller, query));
        expect(body.meta.total).toBe(body.data.length);
        return body.data.map((x: Json) => `${x.name}:${x.status}`).sort();
      };
      expect(await names('?status=active')).toEqual(['forever:active', 'later:active', 'soon:active']);
      expect(await names('?status=expired')).toEqual([]);
      t.clock.advance(HOUR_MS);
      expect(await names('?status=active')).toEqual(['forever:active', 'later:active']);
      expect(await names('?status=expired')).toEqual(['soon:expired']);
      // Revoked wins over expired.
      expect(await names('?status=revoked')).toEqual(['revoked:revoked']);
      expect(await names('')).toHaveLength(4);
      expect([forever, later, soon].every((x) => x.status === 'active')).toBe(true);
    });

    it('filters by a case-insensitive substring of the name in which % and _ are literal', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      for (const name of ['Alpha-One', 'alphabet', '100% done', 'a_b', 'axb', 'back\\slash'])
        await issue(caller, { name });
      const names = async (filter: string) =>
        json(await list(caller, `?name=${encodeURIComponent(filter)}`))
          .data.map((x: Json) => x.name)
          .sort();
      expect(await names('ALPHA')).toEqual(['Alpha-One', 'alphabet']);
      expect(await names('%')).toEqual(['100% done']);
      expect(await names('_')).toEqual(['a_b']);
      expect(await names('A_B')).toEqual(['a_b']);
      expect(await names('\\')).toEqual(['back\\slash']);
      expect(await names('nothing')).toEqual([]);
      expect(json(await list(caller, '?name=alpha&per_page=1')).meta.total).toBe(2);
    });

    it('lists only the tokens of the caller’s own workspace', async () => {
      const a = await ownerWorkspace(t.app);
      const b = await ownerWorkspace(t.app);
      const mine = await issue(viaSession(a.session, a.ws));
      await issue(viaSession(b.session, b.ws));
      const body = json(await list(viaSession(a.session, a.ws)));
      expect(body.data.map((x: Json) => x.id)).toEqual([mine.id]);
      expectError(await list(viaSession(a.session, b.ws)), 404, 'not_found');
    });
  });

  describe('GET /tokens/{id}', () => {
    it('answers 200 for expired and revoked tokens', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const expiring = await issue(caller, { expires_at: iso(t.clock.now() + HOUR_MS) });
      const revoked = await issue(caller);
      await revoke(caller, revoked.id);
      const revokedAt = iso(t.clock.now());
      t.clock.advance(HOUR_MS + 1);
      expect(json(await get(caller, expiring.id))).toMatchObject({ status: 'expired', revoked_at: null });
      expect(json(await get(caller, revoked.id))).toMatchObject({ status: 'revoked', revoked_at: revokedAt });
      const viewer = await newMember(ws, 'viewer');
      expect((await get(viaSession(viewer, ws), expiring.id)).statusCode).toBe(200);
    });

    it('answers 404 for another workspace’s token on get, revoke and rotate', async () => {
      const a = await ownerWorkspace(t.app);
      const b = await ownerWorkspace(t.app);
      const theirs = await issue(viaSession(b.session, b.ws));
      const key = await newKey(a.session, a.ws, { name: 'ci', kind: 'team' });
      for (const caller of [viaSession(a.session, a.ws), viaBearer(key.key)]) {
        expectError(await get(caller, theirs.id), 404, 'not_found');
        expectError(await revoke(caller, theirs.id), 404, 'not_found');
        expectError(await rotate(caller, theirs.id, { grace_period_seconds: 0 }), 404, 'not_found');
      }
      expectError(await get(viaSession(a.session, a.ws), 'tok_doesnotexist000000000000'), 404, 'not_found');
      expect(json(await get(viaSession(b.session, b.ws), theirs.id)).status).toBe('active');
      expect(await verifyCode(viaSession(b.session, b.ws), theirs.token)).toBe('VALID');
    });
  });

  describe('DELETE /tokens/{id}', () => {
    it('revokes so that the very next verify says REVOKED and the token is refused as a credential', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const created = await issue(caller, { scopes: ['tokens:read', 'tokens:verify'] });
      // Warm every cache first.
      expect(await verifyCode(caller, created.token)).toBe('VALID');
      expect((await list(viaBearer(created.token))).statusCode).toBe(200);
      const res = await revoke(caller, created.id);
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe('');
      expect(await verifyCode(caller, created.token)).toBe('REVOKED');
      const asToken = expectError(await list(viaBearer(created.token)), 401, 'unauthorized');
      expect(asToken.message).not.toContain(created.token);
      expect(json(await get(caller, created.id))).toMatchObject({
        status: 'revoked',
        revoked_at: iso(t.clock.now()),
      });
    });

    it('answers 204 again for a revoked token without a second audit entry or event', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const created = await issue(caller);
      expect((await revoke(caller, created.id)).statusCode).toBe(204);
      const firstAt = iso(t.clock.now());
      t.clock.advance(5000);
      expect((await revoke(caller, created.id)).statusCode).toBe(204);
      expect(json(await get(caller, created.id)).revoked_at).toBe(firstAt);
      expect(await auditRows(ws.id, 'token.revoked')).toHaveLength(1);
      expect(await outboxRows(ws.id, 'token.revoked')).toHaveLength(1);
    });

    it('needs tokens:revoke or an owner or admin role', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const target = await issue(viaSession(session, ws));
      const viewer = await newMember(ws, 'viewer');
      expectError(await revoke(viaSession(viewer, ws), target.id), 403, 'forbidden');
      const reader = await issue(viaSession(session, ws), { scopes: ['tokens:read'] });
      expectError(await revoke(viaBearer(reader.token), target.id), 403, 'forbidden');
      const revoker = await issue(viaSession(session, ws), { scopes: ['tokens:revoke'] });
      expect((await revoke(viaBearer(revoker.token), target.id)).statusCode).toBe(204);
      const admin = await newMember(ws, 'admin');
      expect((await revoke(viaSession(admin, ws), reader.id)).statusCode).toBe(204);
      expect(json(await get(viaSession(session, ws), target.id)).status).toBe('revoked');
    });
  });

  describe('POST /tokens/{id}/rotate', () => {
    it('issues a new secret and keeps id, name, scopes, metadata and expires_at; grace 0 ends the old one at once', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const created = await issue(caller, {
        name: 'svc',
        scopes: ['tokens:read', 'tokens:verify'],
        metadata: { k: 'v' },
      });
      expect(await verifyCode(caller, created.token)).toBe('VALID');
      t.clock.advance(1000);
      const res = await rotate(caller, created.id, { grace_period_seconds: 0 });
      expect(res.statusCode, res.body).toBe(200);
      const body = json(res);
      expect(Object.keys(body).sort()).toEqual([...TOKEN_FIELDS, 'token'].sort());
      expect(body.token).toMatch(TOKEN_PATTERN);
      expect(body.token).not.toBe(created.token);
      expect(body).toMatchObject({
        id: created.id,
        name: 'svc',
        scopes: created.scopes,
        metadata: { k: 'v' },
        expires_at: created.expires_at,
        created_at: created.created_at,
        status: 'active',
        rotated_at: iso(t.clock.now()),
        hint: `tkn_${body.token.slice(4, 8)}…${body.token.slice(-2)}`,
      });
      expect(await verifyCode(caller, created.token)).toBe('NOT_FOUND');
      expect(await verifyCode(caller, body.token)).toBe('VALID');
      expectError(await list(viaBearer(created.token)), 401, 'unauthorized');
      expect((await list(viaBearer(body.token))).statusCode).toBe(200);
      const { token: _, ...withoutSecret } = body;
      expect(json(await get(caller, created.id))).toEqual(withoutSecret);
    });

    it('defaults to no grace period when the body is absent', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const created = await issue(caller);
      const res = await rotate(caller, created.id);
      expect(res.statusCode, res.body).toBe(200);
      expect(await verifyCode(caller, created.token)).toBe('NOT_FOUND');
      expect(await verifyCode(caller, json(res).token)).toBe('VALID');
    });

    it('keeps the old secret working for the grace period, then only the new one', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const created = await issue(caller);
      expect(await verifyCode(caller, created.token)).toBe('VALID');
      const rotated = json(await rotate(caller, created.id, { grace_period_seconds: 60 }));
      expect(await verifyCode(caller, created.token)).toBe('VALID');
      expect(await verifyCode(caller, rotated.token)).toBe('VALID');
      t.clock.advance(59_000);
      expect(await verifyCode(caller, created.token)).toBe('VALID');
      t.clock.advance(2_000);
      expect(await verifyCode(caller, created.token)).toBe('NOT_FOUND');
      expectError(await list(viaBearer(created.token)), 401, 'unauthorized');
      expect(await verifyCode(caller, rotated.token)).toBe('VALID');
    });

    it('keeps earlier retirements when rotating twice with grace', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const first = await issue(caller);
      const second = json(await rotate(caller, first.id, { grace_period_seconds: 60 }));
      t.clock.advance(10_000);
      const third = json(await rotate(caller, first.id, { grace_period_seconds: 300 }));
      const codes = async () => Promise.all([first, second, third].map((x) => verifyCode(caller, x.token)));
      expect(await codes()).toEqual(['VALID', 'VALID', 'VALID']);
      t.clock.advance(51_000); // 61 s after the first rotation
      expect(await codes()).toEqual(['NOT_FOUND', 'VALID', 'VALID']);
      t.clock.advance(250_000); // 301 s after the second
      expect(await codes()).toEqual(['NOT_FOUND', 'NOT_FOUND', 'VALID']);
    });

    it('keeps the grace period between 0 and 86400 seconds', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const created = await issue(caller);
      for (const payload of [
        { grace_period_seconds: 86_401 },
        { grace_period_seconds: -1 },
        { grace_period_seconds: 1.5 },
        { grace_period_seconds: '60' },
        { grace: 60 },
      ]) {
        const body = expectError(await rotate(caller, created.id, payload), 400, 'bad_request');
        expect(body.details[0].field).toMatch(/grace/);
      }
      expect(await verifyCode(caller, created.token)).toBe('VALID');
      const res = await rotate(caller, created.id, { grace_period_seconds: 86_400 });
      expect(res.statusCode).toBe(200);
      t.clock.advance(86_399_000);
      expect(await verifyCode(caller, created.token)).toBe('VALID');
      t.clock.advance(1_000);
      expect(await verifyCode(caller, created.token)).toBe('NOT_FOUND');
    });

    it('answers 409 for a revoked or expired token', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const revoked = await issue(caller);
      await revoke(caller, revoked.id);
      expectError(await rotate(caller, revoked.id, { grace_period_seconds: 0 }), 409, 'conflict');
      const expiring = await issue(caller, { expires_at: iso(t.clock.now() + HOUR_MS) });
      t.clock.advance(HOUR_MS);
      expectError(await rotate(caller, expiring.id, { grace_period_seconds: 60 }), 409, 'conflict');
      expect(await verifyCode(caller, revoked.token)).toBe('REVOKED');
      expect(await verifyCode(caller, expiring.token)).toBe('EXPIRED');
      expect(await auditRows(ws.id, 'token.rotated')).toHaveLength(0);
    });

    it('needs tokens:rotate or an owner or admin role', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const target = await issue(viaSession(session, ws));
      const viewer = await newMember(ws, 'viewer');
      expectError(await rotate(viaSession(viewer, ws), target.id, {}), 403, 'forbidden');
      const reader = await issue(viaSession(session, ws), { scopes: ['tokens:read', 'tokens:revoke'] });
      expectError(await rotate(viaBearer(reader.token), target.id, {}), 403, 'forbidden');
      const rotator = await issue(viaSession(session, ws), { scopes: ['tokens:rotate', 'tokens:read'] });
      expect((await rotate(viaBearer(rotator.token), target.id, {})).statusCode).toBe(200);
    });

    it('refuses a token rotating (and so obtaining) a token with a built-in scope it does not hold', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const powerful = await issue(viaSession(session, ws), {
        scopes: ['tokens:write', 'webhooks:write', 'audit:read'],
      });
      const rotator = await issue(viaSession(session, ws), { scopes: ['tokens:rotate'] });
      const res = await rotate(viaBearer(rotator.token), powerful.id, {});
      expectError(res, 403, 'forbidden');
      expect(res.body).not.toMatch(/tkn_/);
      // Nothing changed: the old secret still works and no rotation was recorded.
      expect(await verifyCode(viaSession(session, ws), powerful.token)).toBe('VALID');
      expect(await auditRows(ws.id, 'token.rotated')).toHaveLength(0);
      // A token may still rotate one whose built-in scopes it holds (itself included).
      expect((await rotate(viaBearer(rotator.token), rotator.id, {})).statusCode).toBe(200);
    });

    it('refuses a token rotating (and so obtaining) a token with a custom scope it does not hold', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      await patchSettings(session, ws, { custom_scopes: ['orders:write'] });
      const orders = await issue(viaSession(session, ws), { scopes: ['tokens:read', 'orders:write'] });
      const rotator = await issue(viaSession(session, ws), { scopes: ['tokens:rotate', 'tokens:read'] });
      const res = await rotate(viaBearer(rotator.token), orders.id, {});
      expectError(res, 403, 'forbidden');
      expect(await verifyCode(viaSession(session, ws), orders.token)).toBe('VALID');
    });

    it('leaves exactly one current secret after concurrent rotations', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const created = await issue(caller);
      const results = await Promise.all(
        [1, 2, 3].map(() => rotate(caller, created.id, { grace_period_seconds: 0 })),
      );
      expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200]);
      const secrets: string[] = [created.token, ...results.map((r) => json(r).token)];
      const codes = await Promise.all(secrets.map((secret) => verifyCode(caller, secret)));
      expect(codes.filter((code) => code === 'VALID')).toHaveLength(1);
      const current = secrets[codes.indexOf('VALID')] ?? '';
      expect(json(await get(caller, created.id)).hint).toBe(
        `tkn_${current.slice(4, 8)}…${current.slice(-2)}`,
      );
      expect(await auditRows(ws.id, 'token.rotated')).toHaveLength(3);
    });

    it('never rotates a token once a concurrent revocation has happened', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      for (let i = 0; i < 4; i++) {
        const created = await issue(caller);
        const [revoked, rotated] = await Promise.all([
          revoke(caller, created.id),
          rotate(caller, created.id, { grace_period_seconds: 0 }),
        ]);
        expect(revoked.statusCode).toBe(204);
        expect([200, 409]).toContain(rotated.statusCode);
        if (rotated.statusCode === 200) expect(await verifyCode(caller, json(rotated).token)).toBe('REVOKED');
        const events = await t.services.db
          .selectFrom('audit_log')
          .select('event')
          .where('target_id', '=', created.id)
          .orderBy('seq')
          .execute();
        expect(events.at(-1)?.event).toBe('token.revoked');
        const oldSecret = rotated.statusCode === 200 ? 'NOT_FOUND' : 'REVOKED';
        expect(await verifyCode(caller, created.token)).toBe(oldSecret);
      }
    });
  });

  describe('audit and events', () => {
    it('records token.created, token.rotated and token.revoked with actor and target', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const key = await newKey(session, ws, { name: 'ci', kind: 'team' });
      const personal = await newKey(session, ws, { name: 'laptop', kind: 'personal' });
      const created = await issue(viaSession(session, ws), {
        name: 'svc',
        scopes: ['tokens:write', 'tokens:revoke'],
      });
      await rotate(viaBearer(key.key), created.id, { grace_period_seconds: 30 });
      const child = await issue(viaBearer(created.token), { name: 'child', scopes: ['tokens:write'] });
      await revoke(viaBearer(personal.key), created.id);
      const pick = (row: Json) => ({
        actor: [row.actor_type, row.actor_id, row.actor_name, row.actor_user_id],
        target: [row.target_type, row.target_id, row.target_name],
      });
      expect((await auditRows(ws.id, 'token.created')).map(pick)).toEqual(
        expect.arrayContaining([
          {
            actor: ['user', session.user.id, session.user.email, null],
            target: ['token', created.id, 'svc'],
          },
          { actor: ['token', created.id, 'svc', null], target: ['token', child.id, 'child'] },
        ]),
      );
      expect((await auditRows(ws.id, 'token.rotated')).map(pick)).toEqual([
        { actor: ['api_key', key.id, 'ci', null], target: ['token', created.id, 'svc'] },
      ]);
      expect((await auditRows(ws.id, 'token.revoked')).map(pick)).toEqual([
        { actor: ['api_key', personal.id, 'laptop', session.user.id], target: ['token', created.id, 'svc'] },
      ]);
      for (const event of ['token.created', 'token.rotated', 'token.revoked']) {
        const rows = await outboxRows(ws.id, event);
        expect(rows.length, event).toBe(event === 'token.created' ? 2 : 1);
        expect(rows.map((row) => JSON.parse(row.payload).id)).toContain(created.id);
      }
    });

    it('records the status a token really had when revoked: active or expired', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      const soon = new Date(t.clock.now() + 3_600_000).toISOString();
      const lapsing = await issue(caller, { expires_at: soon });
      const live = await issue(caller);
      t.clock.advance(3_600_000);
      expect(json(await get(caller, lapsing.id)).status).toBe('expired');
      expect((await revoke(caller, lapsing.id)).statusCode).toBe(204);
      expect((await revoke(caller, live.id)).statusCode).toBe(204);
      const revokedAt = iso(t.clock.now());
      const entries = await auditRows(ws.id, 'token.revoked');
      expect(entries.map((e) => [e.target_id, JSON.parse(e.changes ?? 'null')])).toEqual([
        [
          lapsing.id,
          { status: { from: 'expired', to: 'revoked' }, revoked_at: { from: null, to: revokedAt } },
        ],
        [live.id, { status: { from: 'active', to: 'revoked' }, revoked_at: { from: null, to: revokedAt } }],
      ]);
      expect(await outboxRows(ws.id, 'token.revoked')).toHaveLength(2);
    });

    it('never writes a secret issued in this file to the audit log or the outbox', async () => {
      expect(issued.length).toBeGreaterThan(50);
      const audit = await t.services.db.selectFrom('audit_log').selectAll().execute();
      const outbox = await t.services.db.selectFrom('outbox_events').selectAll().execute();
      expect(outbox.length).toBeGreaterThan(50);
      const text = [...audit, ...outbox].map((row) => JSON.stringify(row)).join('\n');
      for (const secret of issued) {
        const randomPart = secret.replace(/^(tkn_|tok_live_)/, '');
        expect(text.includes(randomPart), `${secret.slice(0, 8)}… leaked`).toBe(false);
      }
    });
  });
});
