import { createHash } from 'node:crypto';
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

const KEY_PATTERN = /^tok_live_[0-9A-Za-z]{20}$/;
const KEY_FIELDS = [
  'created_at',
  'created_by',
  'hint',
  'id',
  'kind',
  'last_used_at',
  'name',
  'role',
  'user_id',
];
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Flips one character of the random part of a key, keeping it base62. */
function flipOneCharacter(secret: string): string {
  const i = 'tok_live_'.length + 3;
  const replacement = secret[i] === 'a' ? 'b' : 'a';
  return `${secret.slice(0, i)}${replacement}${secret.slice(i + 1)}`;
}

describe.each(dialects())('%s: API keys', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  /** A new user added to `ws` with `role`, signed in. */
  async function newMember(ws: Json, role: 'owner' | 'admin' | 'viewer'): Promise<Session> {
    const session = await signup(t.app);
    await addMember(t.services, ws.id, session.user.id, role);
    return session;
  }

  const viaSession = (session: Session, ws: Json) => ({
    base: `/v1/workspaces/${ws.slug}/api-keys`,
    headers: session.headers,
  });
  const viaKey = (secret: string) => ({ base: '/v1/api-keys', headers: bearer(secret) });
  type Caller = ReturnType<typeof viaKey>;

  const create = (caller: Caller, payload: Json) =>
    t.app.inject({ method: 'POST', url: caller.base, headers: caller.headers, payload });
  const list = (caller: Caller, query = '') =>
    t.app.inject({ method: 'GET', url: `${caller.base}${query}`, headers: caller.headers });
  const regenerate = (caller: Caller, id: string) =>
    t.app.inject({ method: 'POST', url: `${caller.base}/${id}/regenerate`, headers: caller.headers });
  const remove = (caller: Caller, id: string) =>
    t.app.inject({ method: 'DELETE', url: `${caller.base}/${id}`, headers: caller.headers });
  const settings = (secret: string) =>
    t.app.inject({ method: 'GET', url: '/v1/settings', headers: bearer(secret) });
  const patchSettings = (secret: string, payload: Json) =>
    t.app.inject({ method: 'PATCH', url: '/v1/settings', headers: bearer(secret), payload });

  const keyRow = (id: string) =>
    t.services.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();

  describe('POST /api-keys', () => {
    it('creates a team key with a session and returns the secret once, in the documented shape', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const res = await create(viaSession(session, ws), { name: 'CI deploy', kind: 'team' });
      expect(res.statusCode, res.body).toBe(201);
      const body = json(res);
      expect(Object.keys(body).sort()).toEqual([...KEY_FIELDS, 'key'].sort());
      expect(body.key).toMatch(KEY_PATTERN);
      expect(body).toMatchObject({
        name: 'CI deploy',
        kind: 'team',
        role: 'admin',
        user_id: null,
        hint: `tok_live_${body.key.slice(9, 13)}…${body.key.slice(-2)}`,
        created_at: iso(t.clock.now()),
        created_by: session.user.email,
        last_used_at: null,
      });
      expect(body.id).toMatch(/^key_[0-9a-z]{24}$/);

      const listed = json(await list(viaSession(session, ws))).data.find((k: Json) => k.id === body.id);
      expect(Object.keys(listed).sort()).toEqual(KEY_FIELDS);
      const { key: _, ...withoutSecret } = body;
      expect(listed).toEqual(withoutSecret);
    });

    it('stores only the SHA-256 digest of the key, never the key itself', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const created = await createApiKey(t.app, session, ws.slug, { name: 'stored', kind: 'team' });
      const row = await keyRow(created.id);
      expect(row?.digest).toBe(sha256(created.key));
      const randomPart = created.key.slice('tok_live_'.length);
      for (const value of Object.values(row ?? {})) {
        expect(String(value)).not.toContain(randomPart);
      }
    });

    it('creates personal and team keys with a Bearer key on /v1/api-keys', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const mine = await createApiKey(t.app, session, ws.slug, { name: 'mine', kind: 'personal' });
      expect(mine).toMatchObject({ kind: 'personal', role: 'owner', user_id: session.user.id });

      const personal = await create(viaKey(mine.key), { name: 'laptop', kind: 'personal' });
      expect(personal.statusCode, personal.body).toBe(201);
      expect(json(personal)).toMatchObject({
        kind: 'personal',
        role: 'owner',
        user_id: session.user.id,
        created_by: session.user.email,
      });
      expect(json(personal).key).toMatch(KEY_PATTERN);

      const team = await create(viaKey(mine.key), { name: 'read-only', kind: 'team', role: 'viewer' });
      expect(team.statusCode, team.body).toBe(201);
      expect(json(team)).toMatchObject({ kind: 'team', role: 'viewer', user_id: null });
      expect(json(team).key).toMatch(KEY_PATTERN);
      expect(new Set([mine.key, json(personal).key, json(team).key]).size).toBe(3);
    });

    it('gives a team key the admin role by default and the viewer role when asked', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      expect(json(await create(caller, { name: 'default', kind: 'team' })).role).toBe('admin');
      expect(json(await create(caller, { name: 'admin', kind: 'team', role: 'admin' })).role).toBe('admin');
      expect(json(await create(caller, { name: 'viewer', kind: 'team', role: 'viewer' })).role).toBe(
        'viewer',
      );
    });

    it('accepts names of 1 to 100 characters and answers 400 outside that range', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      expect((await create(caller, { name: 'x', kind: 'team' })).statusCode).toBe(201);
      expect((await create(caller, { name: 'y'.repeat(100), kind: 'team' })).statusCode).toBe(201);
      const empty = expectError(await create(caller, { name: '', kind: 'team' }), 400, 'bad_request');
      expect(empty.details).toEqual([expect.objectContaining({ field: 'name' })]);
      const long = expectError(
        await create(caller, { name: 'z'.repeat(101), kind: 'team' }),
        400,
        'bad_request',
      );
      expect(long.details).toEqual([expect.objectContaining({ field: 'name' })]);
      expectError(await create(caller, { kind: 'team' }), 400, 'bad_request');
    });

    it('answers 409 when the name is already taken in the workspace, ignoring case', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      expect((await create(caller, { name: 'Deploy', kind: 'team' })).statusCode).toBe(201);
      const body = expectError(await create(caller, { name: 'DEPLOY', kind: 'personal' }), 409, 'conflict');
      expect(body.details).toEqual([expect.objectContaining({ field: 'name' })]);
      expect(JSON.stringify(body)).not.toContain('tok_live_');
      // Another workspace may use the same name.
      const other = await ownerWorkspace(t.app);
      expect(
        (await create(viaSession(other.session, other.ws), { name: 'deploy', kind: 'team' })).statusCode,
      ).toBe(201);
    });

    it('answers 400 when a personal key is given a role', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      for (const role of ['admin', 'viewer']) {
        const body = expectError(
          await create(viaSession(session, ws), { name: `p-${role}`, kind: 'personal', role }),
          400,
          'bad_request',
        );
        expect(body.details).toEqual([expect.objectContaining({ field: 'role' })]);
      }
      const listed = json(await list(viaSession(session, ws)));
      expect(listed.meta.total).toBe(0);
    });

    it('answers 400 for an unknown kind, a missing kind, an owner role or an unknown field', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const caller = viaSession(session, ws);
      expectError(await create(caller, { name: 'a', kind: 'service' }), 400, 'bad_request');
      expectError(await create(caller, { name: 'b' }), 400, 'bad_request');
      expectError(await create(caller, { name: 'c', kind: 'team', role: 'owner' }), 400, 'bad_request');
      expectError(await create(caller, { name: 'd', kind: 'team', scopes: [] }), 400, 'bad_request');
      expect(json(await list(caller)).meta.total).toBe(0);
    });

    it('answers 403 when an Admin or a Viewer creates a team key, yet lets them create personal keys', async () => {
      const { ws } = await ownerWorkspace(t.app);
      for (const role of ['admin', 'viewer'] as const) {
        const member = await newMember(ws, role);
        const caller = viaSession(member, ws);
        expectError(await create(caller, { name: `team-${role}`, kind: 'team' }), 403, 'forbidden');
        const personal = await create(caller, { name: `own-${role}`, kind: 'personal' });
        expect(personal.statusCode, personal.body).toBe(201);
        expect(json(personal)).toMatchObject({ kind: 'personal', role, user_id: member.user.id });
        // The same holds for the member's personal key on the bearer path.
        const asKey = viaKey(json(personal).key);
        expectError(await create(asKey, { name: `team2-${role}`, kind: 'team' }), 403, 'forbidden');
        expect((await create(asKey, { name: `own2-${role}`, kind: 'personal' })).statusCode).toBe(201);
      }
    });

    it('answers 403 when a team key tries to create any key', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      for (const role of ['admin', 'viewer']) {
        const team = await createApiKey(t.app, session, ws.slug, {
          name: `team-${role}`,
          kind: 'team',
          role,
        });
        const caller = viaKey(team.key);
        expectError(await create(caller, { name: `x-${role}`, kind: 'team' }), 403, 'forbidden');
        expectError(await create(caller, { name: `y-${role}`, kind: 'personal' }), 403, 'forbidden');
      }
      expect(json(await list(viaSession(session, ws))).meta.total).toBe(2);
    });
  });

  describe('GET /api-keys', () => {
    it('lists the caller’s personal keys and all team keys, newest first; the Owner also sees other members’ personal keys', async () => {
      const { session: owner, ws } = await ownerWorkspace(t.app);
      const admin = await newMember(ws, 'admin');
      const team = await createApiKey(t.app, owner, ws.slug, { name: 'team', kind: 'team' });
      t.clock.advance(1000);
      const ownerKey = await createApiKey(t.app, owner, ws.slug, { name: 'owner-own', kind: 'personal' });
      t.clock.advance(1000);
      const adminKey = await createApiKey(t.app, admin, ws.slug, { name: 'admin-own', kind: 'personal' });
      t.clock.advance(1000);

      const ownerList = json(await list(viaSession(owner, ws)));
      expect(ownerList.data.map((k: Json) => k.id)).toEqual([adminKey.id, ownerKey.id, team.id]);
      expect(ownerList.meta).toEqual({ page: 1, per_page: 25, total: 3 });
      const seenByOwner = ownerList.data.find((k: Json) => k.id === adminKey.id);
      expect(seenByOwner).toMatchObject({ kind: 'personal', role: 'admin', user_id: admin.user.id });

      const adminList = json(await list(viaSession(admin, ws)));
      expect(adminList.data.map((k: Json) => k.id)).toEqual([adminKey.id, team.id]);
      expect(adminList.meta.total).toBe(2);
      // The same view through the admin's personal key, and through the owner's.
      expect(json(await list(viaKey(adminKey.key))).data.map((k: Json) => k.id)).toEqual([
        adminKey.id,
        team.id,
      ]);
      expect(json(await list(viaKey(ownerKey.key))).data.map((k: Json) => k.id)).toEqual([
        adminKey.id,
        ownerKey.id,
        team.id,
      ]);
      // A team key sees the team keys only.
      expect(json(await list(viaKey(team.key))).data.map((k: Json) => k.id)).toEqual([team.id]);

      for (const item of [...ownerList.data, ...adminList.data]) {
        expect(Object.keys(item).sort()).toEqual(KEY_FIELDS);
        expect(JSON.stringify(item)).not.toMatch(/tok_live_[0-9A-Za-z]{20}/);
      }
    });

    it('pages the list and answers an empty page past the end', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.unshift((await createApiKey(t.app, session, ws.slug, { name: `k${i}`, kind: 'team' })).id);
        t.clock.advance(10);
      }
      const caller = viaSession(session, ws);
      const second = json(await list(caller, '?page=2&per_page=2'));
      expect(second.data.map((k: Json) => k.id)).toEqual(ids.slice(2, 4));
      expect(second.meta).toEqual({ page: 2, per_page: 2, total: 5 });
      const past = json(await list(caller, '?page=4&per_page=2'));
      expect(past).toEqual({ data: [], meta: { page: 4, per_page: 2, total: 5 } });
    });
  });

  describe('POST /api-keys/{id}/regenerate', () => {
    it('returns a new secret with the same id, name and role; the old secret answers 401 on the next request', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const team = await createApiKey(t.app, session, ws.slug, {
        name: 'Viewer CI',
        kind: 'team',
        role: 'viewer',
      });
      expect((await settings(team.key)).statusCode).toBe(200);
      t.clock.advance(5000);
      const res = await regenerate(viaSession(session, ws), team.id);
      expect(res.statusCode, res.body).toBe(200);
      const body = json(res);
      expect(Object.keys(body).sort()).toEqual([...KEY_FIELDS, 'key'].sort());
      expect(body.key).toMatch(KEY_PATTERN);
      expect(body.key).not.toBe(team.key);
      expect(body).toMatchObject({
        id: team.id,
        name: 'Viewer CI',
        kind: 'team',
        role: 'viewer',
        created_at: team.created_at,
        hint: `tok_live_${body.key.slice(9, 13)}…${body.key.slice(-2)}`,
      });

      expectError(await settings(team.key), 401, 'unauthorized');
      expect((await settings(body.key)).statusCode).toBe(200);
      expect((await keyRow(team.id))?.digest).toBe(sha256(body.key));
    });

    it('lets a member regenerate their own personal key with that very key', async () => {
      const { ws } = await ownerWorkspace(t.app);
      const viewer = await newMember(ws, 'viewer');
      const own = await createApiKey(t.app, viewer, ws.slug, { name: 'viewer-own', kind: 'personal' });
      const res = await regenerate(viaKey(own.key), own.id);
      expect(res.statusCode, res.body).toBe(200);
      expect(json(res)).toMatchObject({
        id: own.id,
        name: 'viewer-own',
        role: 'viewer',
        user_id: viewer.user.id,
      });
      expectError(await list(viaKey(own.key)), 401, 'unauthorized');
      expect((await list(viaKey(json(res).key))).statusCode).toBe(200);
    });

    it('forbids the Owner to regenerate another member’s personal key but lets them delete it', async () => {
      const { session: owner, ws } = await ownerWorkspace(t.app);
      const admin = await newMember(ws, 'admin');
      const adminKey = await createApiKey(t.app, admin, ws.slug, { name: 'admin-own', kind: 'personal' });
      const ownerKey = await createApiKey(t.app, owner, ws.slug, { name: 'owner-own', kind: 'personal' });

      expectError(await regenerate(viaSession(owner, ws), adminKey.id), 403, 'forbidden');
      expectError(await regenerate(viaKey(ownerKey.key), adminKey.id), 403, 'forbidden');
      expect((await settings(adminKey.key)).statusCode).toBe(200);

      const res = await remove(viaSession(owner, ws), adminKey.id);
      expect(res.statusCode, res.body).toBe(204);
      expect(res.body).toBe('');
      expectError(await settings(adminKey.key), 401, 'unauthorized');
      expect(await keyRow(adminKey.id)).toBeUndefined();
    });

    it('answers 404 when a non-owner names another member’s personal key', async () => {
      const { session: owner, ws } = await ownerWorkspace(t.app);
      const admin = await newMember(ws, 'admin');
      const viewer = await newMember(ws, 'viewer');
      const ownerKey = await createApiKey(t.app, owner, ws.slug, { name: 'owner-own', kind: 'personal' });
      const viewerKey = await createApiKey(t.app, viewer, ws.slug, { name: 'viewer-own', kind: 'personal' });
      const adminKey = await createApiKey(t.app, admin, ws.slug, { name: 'admin-own', kind: 'personal' });
      for (const caller of [viaSession(admin, ws), viaKey(adminKey.key)]) {
        for (const id of [ownerKey.id, viewerKey.id]) {
          expectError(await regenerate(caller, id), 404, 'not_found');
          expectError(await remove(caller, id), 404, 'not_found');
        }
      }
      expect((await settings(ownerKey.key)).statusCode).toBe(200);
      expect((await settings(viewerKey.key)).statusCode).toBe(200);
    });

    it('answers 403 when an Admin or a Viewer regenerates or deletes a team key', async () => {
      const { session: owner, ws } = await ownerWorkspace(t.app);
      const team = await createApiKey(t.app, owner, ws.slug, { name: 'team', kind: 'team' });
      for (const role of ['admin', 'viewer'] as const) {
        const member = await newMember(ws, role);
        expectError(await regenerate(viaSession(member, ws), team.id), 403, 'forbidden');
        expectError(await remove(viaSession(member, ws), team.id), 403, 'forbidden');
      }
      // Nor may a team key manage itself.
      expectError(await regenerate(viaKey(team.key), team.id), 403, 'forbidden');
      expectError(await remove(viaKey(team.key), team.id), 403, 'forbidden');
      expect((await settings(team.key)).statusCode).toBe(200);
    });

    it('answers 404 for a key of another workspace or an unknown id, on both path styles', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const other = await ownerWorkspace(t.app);
      const foreign = await createApiKey(t.app, other.session, other.ws.slug, {
        name: 'foreign',
        kind: 'team',
      });
      const mine = await createApiKey(t.app, session, ws.slug, { name: 'mine', kind: 'personal' });
      for (const caller of [viaSession(session, ws), viaKey(mine.key)]) {
        for (const id of [foreign.id, 'key_000000000000000000000000']) {
          expectError(await regenerate(caller, id), 404, 'not_found');
          expectError(await remove(caller, id), 404, 'not_found');
        }
      }
      expect((await settings(foreign.key)).statusCode).toBe(200);
    });
  });

  describe('DELETE /api-keys/{id}', () => {
    it('deletes a key with 204 and the key answers 401 at once', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const own = await createApiKey(t.app, session, ws.slug, { name: 'own', kind: 'personal' });
      const team = await createApiKey(t.app, session, ws.slug, { name: 'team', kind: 'team' });
      expect((await settings(team.key)).statusCode).toBe(200);
      const res = await remove(viaKey(own.key), team.id);
      expect(res.statusCode, res.body).toBe(204);
      expectError(await settings(team.key), 401, 'unauthorized');
      // A key may delete itself; it answers 401 from then on.
      expect((await remove(viaKey(own.key), own.id)).statusCode).toBe(204);
      const after = expectError(await settings(own.key), 401, 'unauthorized');
      expect(after.message).toBe('Invalid or missing API key');
      expect(json(await list(viaSession(session, ws))).meta.total).toBe(0);
      expectError(await remove(viaSession(session, ws), team.id), 404, 'not_found');
    });
  });

  describe('authority of a key', () => {
    it('acts with its member’s current role, so a demotion narrows it at once', async () => {
      const { session: owner, ws } = await ownerWorkspace(t.app);
      const other = await newMember(ws, 'owner');
      const own = await createApiKey(t.app, other, ws.slug, { name: 'own', kind: 'personal' });
      expect((await patchSettings(own.key, { name: 'Renamed' })).statusCode).toBe(200);

      const setRole = async (role: string) => {
        const res = await t.app.inject({
          method: 'PATCH',
          url: `/v1/workspaces/${ws.slug}/members/${other.user.id}`,
          headers: owner.headers,
          payload: { role },
        });
        expect(res.statusCode).toBe(200);
      };
      await setRole('viewer');
      expectError(await patchSettings(own.key, { name: 'Again' }), 403, 'forbidden');
      expect((await settings(own.key)).statusCode).toBe(200);
      expectError(await create(viaKey(own.key), { name: 'team', kind: 'team' }), 403, 'forbidden');
      const listed = json(await list(viaKey(own.key))).data.find((k: Json) => k.id === own.id);
      expect(listed.role).toBe('viewer');

      await setRole('owner');
      expect((await patchSettings(own.key, { name: 'Again' })).statusCode).toBe(200);
    });

    it('answers 401 for a personal key whose user is no longer a member', async () => {
      const { session: owner, ws } = await ownerWorkspace(t.app);
      const admin = await newMember(ws, 'admin');
      const own = await createApiKey(t.app, admin, ws.slug, { name: 'leaver', kind: 'personal' });
      expect((await settings(own.key)).statusCode).toBe(200);
      const removed = await t.app.inject({
        method: 'DELETE',
        url: `/v1/workspaces/${ws.slug}/members/${admin.user.id}`,
        headers: owner.headers,
      });
      expect(removed.statusCode).toBe(204);
      const body = expectError(await settings(own.key), 401, 'unauthorized');
      expect(body.message).toBe('Invalid or missing API key');
    });

    it('keeps a team key’s fixed role whatever happens to the member who made it', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const adminTeam = await createApiKey(t.app, session, ws.slug, { name: 'admin', kind: 'team' });
      const viewerTeam = await createApiKey(t.app, session, ws.slug, {
        name: 'v',
        kind: 'team',
        role: 'viewer',
      });
      await t.services.db
        .updateTable('members')
        .set({ role: 'viewer' })
        .where('workspace_id', '=', ws.id)
        .where('user_id', '=', session.user.id)
        .execute();
      const listed = json(await list(viaKey(adminTeam.key)));
      expect(listed.data.find((k: Json) => k.id === adminTeam.id).role).toBe('admin');
      // Neither team role may change settings (Owner only), and both may read them.
      expectError(await patchSettings(adminTeam.key, { name: 'x' }), 403, 'forbidden');
      expectError(await patchSettings(viewerTeam.key, { name: 'x' }), 403, 'forbidden');
      expect((await settings(viewerTeam.key)).statusCode).toBe(200);
    });

    it('reaches only its own workspace: another workspace’s slug answers 404', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const other = await ownerWorkspace(t.app);
      const own = await createApiKey(t.app, session, ws.slug, { name: 'own', kind: 'personal' });
      const mine = await t.app.inject({
        method: 'GET',
        url: `/v1/workspaces/${ws.slug}/api-keys`,
        headers: bearer(own.key),
      });
      expect(mine.statusCode).toBe(200);
      const theirs = await t.app.inject({
        method: 'GET',
        url: `/v1/workspaces/${other.ws.slug}/api-keys`,
        headers: bearer(own.key),
      });
      expectError(theirs, 404, 'not_found');
      const created = await t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${other.ws.slug}/api-keys`,
        headers: bearer(own.key),
        payload: { name: 'sneaky', kind: 'personal' },
      });
      expectError(created, 404, 'not_found');
      expect(json(await list(viaSession(other.session, other.ws))).meta.total).toBe(0);
    });
  });

  describe('last_used_at', () => {
    it('stays null until the key is used, and is written in a batch by the usage flush', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const team = await createApiKey(t.app, session, ws.slug, { name: 'used', kind: 'team' });
      await t.services.usage.flush();
      const find = async () =>
        json(await list(viaSession(session, ws))).data.find((k: Json) => k.id === team.id);
      expect((await find()).last_used_at).toBeNull();

      t.clock.advance(60_000);
      const usedAt = t.clock.now();
      expect((await settings(team.key)).statusCode).toBe(200);
      // Authentication never writes synchronously.
      expect((await keyRow(team.id))?.last_used_at).toBeNull();
      expect((await find()).last_used_at).toBeNull();

      t.clock.advance(1000);
      await t.services.usage.flush();
      expect((await keyRow(team.id))?.last_used_at).toBe(usedAt);
      expect((await find()).last_used_at).toBe(iso(usedAt));
    });
  });

  describe('audit', () => {
    it('records api_key.created, regenerated and deleted with the right actor and target and no secret', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const own = await createApiKey(t.app, session, ws.slug, { name: 'owner-own', kind: 'personal' });
      const team = await createApiKey(t.app, session, ws.slug, { name: 'pipeline', kind: 'team' });
      const regenerated = json(await regenerate(viaKey(own.key), team.id));
      expect(regenerated.key).toMatch(KEY_PATTERN);
      expect((await remove(viaSession(session, ws), team.id)).statusCode).toBe(204);

      const rows = await t.services.db
        .selectFrom('audit_log')
        .selectAll()
        .where('workspace_id', '=', ws.id)
        .where('event', 'like', 'api_key.%')
        .orderBy('seq')
        .execute();
      expect(rows.map((r) => [r.event, r.target_id])).toEqual([
        ['api_key.created', own.id],
        ['api_key.created', team.id],
        ['api_key.regenerated', team.id],
        ['api_key.deleted', team.id],
      ]);
      const userActor = {
        actor_type: 'user',
        actor_id: session.user.id,
        actor_name: session.user.email,
        actor_user_id: null,
      };
      expect(rows[1]).toMatchObject({ ...userActor, target_type: 'api_key', target_name: 'pipeline' });
      expect(rows[2]).toMatchObject({
        actor_type: 'api_key',
        actor_id: own.id,
        actor_name: 'owner-own',
        actor_user_id: session.user.id,
        target_type: 'api_key',
        target_id: team.id,
        target_name: 'pipeline',
      });
      expect(rows[3]).toMatchObject({ ...userActor, target_type: 'api_key', target_name: 'pipeline' });

      const secrets = [own.key, team.key, regenerated.key];
      for (const row of rows) {
        const text = JSON.stringify(row);
        for (const secret of secrets) {
          expect(text).not.toContain(secret.slice('tok_live_'.length));
          expect(text).not.toContain(sha256(secret));
        }
      }
    });
  });

  describe('authentication', () => {
    it('answers 401 "Invalid or missing API key" for a missing, malformed, corrupted, unknown or Basic credential', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const real = await createApiKey(t.app, session, ws.slug, { name: 'real', kind: 'team' });
      const cases: [string, Record<string, string>][] = [
        ['no header', {}],
        ['an empty Bearer', { authorization: 'Bearer' }],
        ['Bearer with two words', { authorization: `Bearer ${real.key} extra` }],
        ['a colon instead of a space', { authorization: `Bearer:${real.key}` }],
        ['a key without its prefix', bearer(real.key.slice('tok_live_'.length))],
        ['a truncated key', bearer(real.key.slice(0, -1))],
        ['a bad checksum', bearer(flipOneCharacter(real.key))],
        ['an unknown key', bearer(generateSecret('api_key'))],
        [
          'Basic credentials',
          { authorization: `Basic ${Buffer.from(`user:${real.key}`).toString('base64')}` },
        ],
      ];
      for (const [label, headers] of cases) {
        for (const url of ['/v1/api-keys', '/v1/settings', `/v1/workspaces/${ws.slug}/api-keys`]) {
          const res = await t.app.inject({ method: 'GET', url, headers });
          expect(res.statusCode, `${label} on ${url}`).toBe(401);
          expect(json(res)).toEqual({
            error: 'unauthorized',
            message: 'Invalid or missing API key',
            status: 401,
            request_id: res.headers['x-request-id'],
          });
        }
      }
      expect((await settings(real.key)).statusCode).toBe(200);
    });

    it('rejects a key with a bad checksum without reading storage', async () => {
      const { session, ws } = await ownerWorkspace(t.app);
      const real = await createApiKey(t.app, session, ws.slug, { name: 'real', kind: 'team' });
      const spy = vi.spyOn(t.services.db, 'selectFrom');
      try {
        const res = await settings(flipOneCharacter(real.key));
        expect(res.statusCode).toBe(401);
        expect(spy).not.toHaveBeenCalled();
        // The spy does see lookups: the real key is looked up.
        expect((await settings(real.key)).statusCode).toBe(200);
        expect(spy).toHaveBeenCalledWith('api_keys');
      } finally {
        spy.mockRestore();
      }
    });
  });
});
