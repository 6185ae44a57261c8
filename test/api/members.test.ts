import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditRows,
  bearer,
  createApiKey,
  createTestApp,
  dialects,
  type Json,
  json,
  outboxRows,
  ownerWorkspace,
  type Session,
  signup,
  type TestApp,
  uniqueEmail,
} from '../helpers.js';

type Role = 'owner' | 'admin' | 'viewer';

describe.each(dialects())('%s: members', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_PUBLIC_URL: 'https://tooken.example.com' });
  });
  afterAll(() => t.close());

  /** Brings a new person into the workspace the way a real one arrives: invitation, sign-up, accept. */
  async function join(owner: Session, ws: Json, role: Role): Promise<Session> {
    const email = uniqueEmail(role);
    const invited = await t.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${ws.slug}/invitations`,
      headers: owner.headers,
      payload: { email, role },
    });
    expect(invited.statusCode).toBe(201);
    const person = await signup(t.app, email);
    const token = new URL(json(invited).accept_url).searchParams.get('token');
    t.clock.advance(1000); // distinct joined_at, so "newest first" is observable
    const accepted = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations/accept',
      headers: person.headers,
      payload: { token },
    });
    expect(accepted.statusCode).toBe(200);
    return person;
  }

  const call = (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    headers: Record<string, string>,
    payload?: Json,
  ) => t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });

  const auditOf = (workspaceId: string, event: string) => auditRows(t.services, workspaceId, event);

  async function team(name: string) {
    const { session: owner, ws } = await ownerWorkspace(t.app, { name });
    const admin = await join(owner, ws, 'admin');
    const viewer = await join(owner, ws, 'viewer');
    return { owner, ws, admin, viewer };
  }

  it('lists members with their roles, newest first, to every role', async () => {
    const { owner, ws, admin, viewer } = await team('Listing');
    for (const who of [owner, admin, viewer]) {
      const res = await call('GET', `/v1/workspaces/${ws.slug}/members`, who.headers);
      expect(res.statusCode).toBe(200);
      const body = json(res);
      expect(body.meta).toEqual({ page: 1, per_page: 25, total: 3 });
      expect(body.data.map((m: Json) => m.user_id)).toEqual([viewer.user.id, admin.user.id, owner.user.id]);
      const byEmail = Object.fromEntries(body.data.map((m: Json) => [m.email, m]));
      expect(byEmail[owner.user.email]).toMatchObject({ user_id: owner.user.id, role: 'owner', name: null });
      expect(byEmail[admin.user.email]).toMatchObject({ user_id: admin.user.id, role: 'admin' });
      expect(byEmail[viewer.user.email]).toMatchObject({ user_id: viewer.user.id, role: 'viewer' });
      for (const m of body.data) {
        expect(Object.keys(m).sort()).toEqual(['email', 'joined_at', 'name', 'role', 'user_id']);
        expect(m.joined_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      }
    }
    // A team key (fixed role) may view members too, through /v1/members.
    const key = await createApiKey(t.app, owner, ws.slug, { name: 'ci', kind: 'team', role: 'viewer' });
    const res = await call('GET', '/v1/members?per_page=2&page=2', bearer(key.key));
    expect(res.statusCode).toBe(200);
    expect(json(res).meta).toEqual({ page: 2, per_page: 2, total: 3 });
    expect(json(res).data.map((m: Json) => m.user_id)).toEqual([owner.user.id]);
    expect(json(await call('GET', '/v1/members?page=3&per_page=2', bearer(key.key))).data).toEqual([]);
    expect((await call('GET', '/v1/members?per_page=0', bearer(key.key))).statusCode).toBe(400);
  });

  it('lets an Owner change a role, audited with the old and the new role', async () => {
    const { owner, ws, viewer } = await team('Promote');
    const res = await call('PATCH', `/v1/workspaces/${ws.slug}/members/${viewer.user.id}`, owner.headers, {
      role: 'admin',
    });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toMatchObject({ user_id: viewer.user.id, email: viewer.user.email, role: 'admin' });
    const members = json(await call('GET', `/v1/workspaces/${ws.slug}/members`, owner.headers)).data;
    expect(members.find((m: Json) => m.user_id === viewer.user.id).role).toBe('admin');
    const me = json(await call('GET', '/v1/me', viewer.headers));
    expect(me.workspaces.find((w: Json) => w.id === ws.id).role).toBe('admin');

    const entries = await auditOf(ws.id, 'member.role_changed');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actor_type: 'user',
      actor_id: owner.user.id,
      target_type: 'member',
      target_id: viewer.user.id,
      target_name: viewer.user.email,
    });
    expect(JSON.parse(entries[0]?.changes ?? 'null')).toEqual({ role: { from: 'viewer', to: 'admin' } });

    // Invalid roles and unknown fields are refused by the schema.
    expect(
      (
        await call('PATCH', `/v1/workspaces/${ws.slug}/members/${viewer.user.id}`, owner.headers, {
          role: 'boss',
        })
      ).statusCode,
    ).toBe(400);
    expect(
      (
        await call('PATCH', `/v1/workspaces/${ws.slug}/members/${viewer.user.id}`, owner.headers, {
          role: 'viewer',
          extra: 1,
        })
      ).statusCode,
    ).toBe(400);
  });

  it('refuses member management to Admins, Viewers, team keys and tokens (403)', async () => {
    const { owner, ws, admin, viewer } = await team('Forbidden');
    const target = viewer.user.id;
    for (const who of [admin, viewer]) {
      const base = `/v1/workspaces/${ws.slug}`;
      expect(
        (await call('PATCH', `${base}/members/${target}`, who.headers, { role: 'admin' })).statusCode,
      ).toBe(403);
      expect(
        (await call('PATCH', `${base}/members/${owner.user.id}`, who.headers, { role: 'viewer' })).statusCode,
      ).toBe(403);
      expect((await call('DELETE', `${base}/members/${owner.user.id}`, who.headers)).statusCode).toBe(403);
      expect(
        (await call('POST', `${base}/invitations`, who.headers, { email: uniqueEmail(), role: 'viewer' }))
          .statusCode,
      ).toBe(403);
    }
    expect(
      (await call('DELETE', `/v1/workspaces/${ws.slug}/members/${target}`, admin.headers)).statusCode,
    ).toBe(403);

    const teamKey = await createApiKey(t.app, owner, ws.slug, {
      name: 'deploy',
      kind: 'team',
      role: 'admin',
    });
    const keyHeaders = bearer(teamKey.key);
    expect((await call('PATCH', `/v1/members/${target}`, keyHeaders, { role: 'admin' })).statusCode).toBe(
      403,
    );
    expect((await call('DELETE', `/v1/members/${target}`, keyHeaders)).statusCode).toBe(403);
    expect(
      (await call('POST', '/v1/invitations', keyHeaders, { email: uniqueEmail(), role: 'viewer' }))
        .statusCode,
    ).toBe(403);

    const created = await call('POST', '/v1/tokens', keyHeaders, {
      name: 'all-scopes',
      scopes: [
        'tokens:read',
        'tokens:write',
        'tokens:revoke',
        'tokens:rotate',
        'tokens:verify',
        'audit:read',
        'webhooks:read',
        'webhooks:write',
      ],
    });
    expect(created.statusCode).toBe(201);
    const tokenHeaders = bearer(json(created).token);
    expect((await call('GET', '/v1/members', tokenHeaders)).statusCode).toBe(403);
    expect((await call('GET', '/v1/invitations', tokenHeaders)).statusCode).toBe(403);
    expect(
      (await call('POST', '/v1/invitations', tokenHeaders, { email: uniqueEmail(), role: 'viewer' }))
        .statusCode,
    ).toBe(403);
    expect((await call('PATCH', `/v1/members/${target}`, tokenHeaders, { role: 'admin' })).statusCode).toBe(
      403,
    );
    expect((await call('DELETE', `/v1/members/${target}`, tokenHeaders)).statusCode).toBe(403);

    // Nothing changed.
    const members = json(await call('GET', `/v1/workspaces/${ws.slug}/members`, owner.headers)).data;
    expect(members.map((m: Json) => m.role).sort()).toEqual(['admin', 'owner', 'viewer']);
    expect(await auditOf(ws.id, 'member.role_changed')).toHaveLength(0);
    expect(await auditOf(ws.id, 'member.removed')).toHaveLength(0);
  });

  it('answers 404 for a member of another workspace or an unknown id', async () => {
    const a = await team('Alpha');
    const b = await team('Beta');
    const base = `/v1/workspaces/${a.ws.slug}/members`;
    for (const id of [b.viewer.user.id, b.owner.user.id, 'usr_doesnotexist000000000000']) {
      expect((await call('PATCH', `${base}/${id}`, a.owner.headers, { role: 'admin' })).statusCode).toBe(404);
      expect((await call('DELETE', `${base}/${id}`, a.owner.headers)).statusCode).toBe(404);
    }
    // Through a key of workspace A, too.
    const key = await createApiKey(t.app, a.owner, a.ws.slug, { name: 'mine', kind: 'personal' });
    expect((await call('DELETE', `/v1/members/${b.viewer.user.id}`, bearer(key.key))).statusCode).toBe(404);
    // And another workspace's slug is not reachable by a non-member.
    expect((await call('GET', `/v1/workspaces/${b.ws.slug}/members`, a.owner.headers)).statusCode).toBe(404);
    const bMembers = json(await call('GET', `/v1/workspaces/${b.ws.slug}/members`, b.owner.headers)).data;
    expect(bMembers).toHaveLength(3);
    expect(bMembers.find((m: Json) => m.user_id === b.viewer.user.id).role).toBe('viewer');
  });

  it('keeps the last Owner: neither demoted nor removed (409), but two Owners may', async () => {
    const { session: owner, ws } = await ownerWorkspace(t.app, { name: 'Last Owner' });
    const base = `/v1/workspaces/${ws.slug}/members`;
    const demote = await call('PATCH', `${base}/${owner.user.id}`, owner.headers, { role: 'admin' });
    expect(demote.statusCode).toBe(409);
    expect(json(demote).error).toBe('conflict');
    const leave = await call('DELETE', `${base}/${owner.user.id}`, owner.headers);
    expect(leave.statusCode).toBe(409);

    // A second Owner makes both possible.
    const second = await join(owner, ws, 'owner');
    const demoted = await call('PATCH', `${base}/${second.user.id}`, owner.headers, { role: 'admin' });
    expect(demoted.statusCode).toBe(200);
    // Promoted back, the second Owner can demote the first.
    expect(
      (await call('PATCH', `${base}/${second.user.id}`, owner.headers, { role: 'owner' })).statusCode,
    ).toBe(200);
    expect(
      (await call('PATCH', `${base}/${owner.user.id}`, second.headers, { role: 'viewer' })).statusCode,
    ).toBe(200);
    // Now the second one is the last Owner.
    expect(
      (await call('PATCH', `${base}/${second.user.id}`, second.headers, { role: 'admin' })).statusCode,
    ).toBe(409);
    expect((await call('DELETE', `${base}/${second.user.id}`, second.headers)).statusCode).toBe(409);
    // An Owner may remove another Owner when one remains.
    expect(
      (await call('PATCH', `${base}/${owner.user.id}`, second.headers, { role: 'owner' })).statusCode,
    ).toBe(200);
    expect((await call('DELETE', `${base}/${owner.user.id}`, second.headers)).statusCode).toBe(204);
    const left = json(await call('GET', base, second.headers)).data;
    expect(left.map((m: Json) => [m.user_id, m.role])).toEqual([[second.user.id, 'owner']]);
    // The 409s wrote nothing.
    const changes = (await auditOf(ws.id, 'member.role_changed')).map(
      (e) => JSON.parse(e.changes ?? 'null').role,
    );
    expect(changes).toEqual([
      { from: 'owner', to: 'admin' },
      { from: 'admin', to: 'owner' },
      { from: 'owner', to: 'viewer' },
      { from: 'viewer', to: 'owner' },
    ]);
  });

  it('two Owners demoting each other at once leave one Owner', async () => {
    const { session: a, ws } = await ownerWorkspace(t.app, { name: 'Race' });
    const b = await join(a, ws, 'owner');
    const base = `/v1/workspaces/${ws.slug}/members`;
    const [ra, rb] = await Promise.all([
      call('PATCH', `${base}/${b.user.id}`, a.headers, { role: 'viewer' }),
      call('PATCH', `${base}/${a.user.id}`, b.headers, { role: 'viewer' }),
    ]);
    expect([ra.statusCode, rb.statusCode].sort()).toEqual([200, 409]);
    const roles = json(await call('GET', base, a.headers))
      .data.map((m: Json) => m.role)
      .sort();
    expect(roles).toEqual(['owner', 'viewer']);
  });

  it('concurrent role changes of one member are audited as a consistent chain', async () => {
    const { session: owner, ws } = await ownerWorkspace(t.app, { name: 'Role Chain' });
    const person = await join(owner, ws, 'viewer');
    const url = `/v1/workspaces/${ws.slug}/members/${person.user.id}`;
    const roles: Role[] = ['admin', 'owner', 'viewer', 'admin', 'owner', 'viewer', 'admin', 'owner'];
    const results = await Promise.all(roles.map((role) => call('PATCH', url, owner.headers, { role })));
    for (const res of results) expect(res.statusCode).toBe(200);
    const finalRole = json(await call('GET', `/v1/workspaces/${ws.slug}/members`, owner.headers)).data.find(
      (m: Json) => m.user_id === person.user.id,
    ).role;
    let previous = 'viewer';
    for (const entry of await auditOf(ws.id, 'member.role_changed')) {
      const { from, to } = JSON.parse(entry.changes ?? 'null').role;
      expect(from).toBe(previous);
      expect(to).not.toBe(from);
      previous = to;
    }
    expect(previous).toBe(finalRole);
  });

  it('removes a member once when removed twice at the same moment', async () => {
    const { owner, ws, viewer } = await team('Twice Removed');
    const url = `/v1/workspaces/${ws.slug}/members/${viewer.user.id}`;
    const results = await Promise.all([
      call('DELETE', url, owner.headers),
      call('DELETE', url, viewer.headers),
    ]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([204, 404]);
    expect(await auditOf(ws.id, 'member.removed')).toHaveLength(1);
  });

  it('lets a member leave, audited, and the session loses the workspace at once', async () => {
    const { owner, ws, admin, viewer } = await team('Leaving');
    const res = await call('DELETE', `/v1/workspaces/${ws.slug}/members/${viewer.user.id}`, viewer.headers);
    expect(res.statusCode).toBe(204);
    expect((await call('GET', `/v1/workspaces/${ws.slug}/members`, viewer.headers)).statusCode).toBe(404);
    expect((await call('GET', `/v1/workspaces/${ws.slug}/tokens`, viewer.headers)).statusCode).toBe(404);
    const me = json(await call('GET', '/v1/me', viewer.headers));
    expect(me.workspaces.map((w: Json) => w.id)).not.toContain(ws.id);
    // An Admin may leave too.
    expect(
      (await call('DELETE', `/v1/workspaces/${ws.slug}/members/${admin.user.id}`, admin.headers)).statusCode,
    ).toBe(204);

    const members = json(await call('GET', `/v1/workspaces/${ws.slug}/members`, owner.headers)).data;
    expect(members.map((m: Json) => m.user_id)).toEqual([owner.user.id]);
    const removed = await auditOf(ws.id, 'member.removed');
    expect(removed.map((e) => [e.actor_id, e.target_id])).toEqual([
      [viewer.user.id, viewer.user.id],
      [admin.user.id, admin.user.id],
    ]);
    expect(JSON.parse(removed[0]?.changes ?? 'null')).toEqual({ role: { from: 'viewer', to: null } });
  });

  it('narrows a personal key at once on demotion, deletes it on removal; team keys survive', async () => {
    const { session: owner, ws } = await ownerWorkspace(t.app, { name: 'Keys Follow' });
    const second = await join(owner, ws, 'owner');
    const personal = await createApiKey(t.app, second, ws.slug, {
      name: 'second-personal',
      kind: 'personal',
    });
    const teamKey = await createApiKey(t.app, second, ws.slug, { name: 'second-made-team', kind: 'team' });
    const key = bearer(personal.key);

    // As an Owner the key may do Owner things.
    expect(
      (await call('POST', '/v1/invitations', key, { email: uniqueEmail(), role: 'viewer' })).statusCode,
    ).toBe(201);
    expect((await call('PATCH', '/v1/settings', key, { name: 'Keys Follow' })).statusCode).toBe(200);

    // Demoted to Admin: Owner-only actions are refused at once, Admin ones still work.
    const base = `/v1/workspaces/${ws.slug}/members`;
    expect(
      (await call('PATCH', `${base}/${second.user.id}`, owner.headers, { role: 'admin' })).statusCode,
    ).toBe(200);
    expect(
      (await call('POST', '/v1/invitations', key, { email: uniqueEmail(), role: 'viewer' })).statusCode,
    ).toBe(403);
    expect((await call('PATCH', '/v1/settings', key, { name: 'Nope' })).statusCode).toBe(403);
    expect(
      (await call('POST', '/v1/tokens', key, { name: 'by-admin', scopes: ['tokens:read'] })).statusCode,
    ).toBe(201);

    // Demoted to Viewer: creating tokens is refused too; reading still works.
    expect(
      (await call('PATCH', `${base}/${second.user.id}`, owner.headers, { role: 'viewer' })).statusCode,
    ).toBe(200);
    expect(
      (await call('POST', '/v1/tokens', key, { name: 'by-viewer', scopes: ['tokens:read'] })).statusCode,
    ).toBe(403);
    expect((await call('GET', '/v1/tokens', key)).statusCode).toBe(200);

    // Removed: the key is gone (401), the session loses the workspace (404), the team key lives on.
    expect((await call('DELETE', `${base}/${second.user.id}`, owner.headers)).statusCode).toBe(204);
    const gone = await call('GET', '/v1/tokens', key);
    expect(gone.statusCode).toBe(401);
    expect(json(gone).error).toBe('unauthorized');
    expect((await call('GET', `/v1/workspaces/${ws.slug}/tokens`, second.headers)).statusCode).toBe(404);
    expect((await call('GET', `/v1/workspaces/${ws.slug}/members`, second.headers)).statusCode).toBe(404);
    const rows = await t.services.db
      .selectFrom('api_keys')
      .select(['id'])
      .where('workspace_id', '=', ws.id)
      .execute();
    expect(rows.map((r) => r.id)).toEqual([teamKey.id]);
    expect((await call('GET', '/v1/tokens', bearer(teamKey.key))).statusCode).toBe(200);

    const removed = await auditOf(ws.id, 'member.removed');
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatchObject({
      actor_id: owner.user.id,
      target_id: second.user.id,
      target_name: second.user.email,
    });
    expect(JSON.parse(removed[0]?.changes ?? 'null')).toEqual({ role: { from: 'viewer', to: null } });

    // Rejoining later does not bring the old key back.
    const again = await t.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${ws.slug}/invitations`,
      headers: owner.headers,
      payload: { email: second.user.email, role: 'owner' },
    });
    expect(again.statusCode).toBe(201);
    const token = new URL(json(again).accept_url).searchParams.get('token');
    expect((await call('POST', '/v1/invitations/accept', second.headers, { token })).statusCode).toBe(200);
    expect((await call('GET', '/v1/tokens', key)).statusCode).toBe(401);
  });

  it('records api_key.deleted, with its webhook event, for each personal key a removal deletes', async () => {
    const { owner, ws, admin, viewer } = await team('Keys Audited');
    const first = await createApiKey(t.app, admin, ws.slug, { name: 'admin-one', kind: 'personal' });
    t.clock.advance(1000);
    const second = await createApiKey(t.app, admin, ws.slug, { name: 'admin-two', kind: 'personal' });
    await createApiKey(t.app, owner, ws.slug, { name: 'owner-team', kind: 'team', role: 'viewer' });
    const viewerKey = await createApiKey(t.app, viewer, ws.slug, { name: 'viewer-own', kind: 'personal' });

    const removed = await call('DELETE', `/v1/workspaces/${ws.slug}/members/${admin.user.id}`, owner.headers);
    expect(removed.statusCode).toBe(204);
    // Left on their own: the member is the actor.
    const left = await call('DELETE', `/v1/workspaces/${ws.slug}/members/${viewer.user.id}`, viewer.headers);
    expect(left.statusCode).toBe(204);

    const entry = (e: Json) => [
      e.actor_id,
      e.target_type,
      e.target_id,
      e.target_name,
      e.changes,
      e.request_id,
    ];
    const deleted = await auditOf(ws.id, 'api_key.deleted');
    expect(deleted.map(entry)).toEqual([
      [owner.user.id, 'api_key', first.id, 'admin-one', null, removed.headers['x-request-id']],
      [owner.user.id, 'api_key', second.id, 'admin-two', null, removed.headers['x-request-id']],
      [viewer.user.id, 'api_key', viewerKey.id, 'viewer-own', null, left.headers['x-request-id']],
    ]);
    // In the removal's transaction, right after its member.removed entry.
    const memberRemoved = await auditOf(ws.id, 'member.removed');
    const seqs = (rows: Json[]) => rows.map((e) => Number(e.seq));
    const [byOwner, byViewer] = seqs(memberRemoved);
    expect(seqs(deleted)).toEqual([Number(byOwner) + 1, Number(byOwner) + 2, Number(byViewer) + 1]);
    // Sent to webhooks like every audit event (the outbox orders one instant's events by id only).
    const events = await outboxRows(t.services, ws.id, 'api_key.deleted');
    expect(events).toHaveLength(3);
    expect(events.map((e) => JSON.parse(e.payload).target)).toEqual(
      expect.arrayContaining([
        { type: 'api_key', id: first.id, name: 'admin-one' },
        { type: 'api_key', id: second.id, name: 'admin-two' },
        { type: 'api_key', id: viewerKey.id, name: 'viewer-own' },
      ]),
    );
  });

  it('a removed member keeps their other workspaces', async () => {
    const a = await team('Keep One');
    const b = await team('Keep Two');
    // a.viewer also joins b.
    const inv = await call('POST', `/v1/workspaces/${b.ws.slug}/invitations`, b.owner.headers, {
      email: a.viewer.user.email,
      role: 'admin',
    });
    const token = new URL(json(inv).accept_url).searchParams.get('token');
    expect((await call('POST', '/v1/invitations/accept', a.viewer.headers, { token })).statusCode).toBe(200);
    const keyB = await createApiKey(t.app, a.viewer, b.ws.slug, { name: 'in-b', kind: 'personal' });

    expect(
      (await call('DELETE', `/v1/workspaces/${a.ws.slug}/members/${a.viewer.user.id}`, a.owner.headers))
        .statusCode,
    ).toBe(204);
    expect((await call('GET', `/v1/workspaces/${a.ws.slug}/tokens`, a.viewer.headers)).statusCode).toBe(404);
    expect((await call('GET', `/v1/workspaces/${b.ws.slug}/tokens`, a.viewer.headers)).statusCode).toBe(200);
    expect((await call('GET', '/v1/tokens', bearer(keyB.key))).statusCode).toBe(200);
    const me = json(await call('GET', '/v1/me', a.viewer.headers));
    expect(me.workspaces.map((w: Json) => [w.id, w.role])).toEqual([[b.ws.id, 'admin']]);
  });
});
