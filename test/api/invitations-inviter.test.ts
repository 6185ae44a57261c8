import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  auditRows,
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
  uniqueEmail,
} from '../helpers.js';

/**
 * An invitation is only as good as its inviter's standing (docs/workspaces.md#invitations): removing
 * a member revokes the invitations they sent, and accepting checks that the inviter may still grant
 * the role, refusing and revoking otherwise.
 */

type Role = 'owner' | 'admin' | 'viewer';

const tokenOf = (invitation: Json): string => {
  const token = new URL(invitation.accept_url).searchParams.get('token');
  if (token === null) throw new Error('no token in accept_url');
  return token;
};

describe.each(dialects())('%s: invitations and their inviter', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  const send = (
    headers: Record<string, string>,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    payload?: Json,
  ) => t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });

  /** A workspace with two Owners: `first` created it, `second` was added. */
  async function twoOwners() {
    const { session: first, ws } = await ownerWorkspace(t.app);
    const second = await signup(t.app);
    await addMember(t.services, ws.id, second.user.id, 'owner');
    const base = `/v1/workspaces/${ws.slug}`;
    const invite = async (by: Record<string, string>, role: Role, email = uniqueEmail(role)) => {
      const res = await send(by, 'POST', `${base}/invitations`, { email, role });
      expect(res.statusCode, res.body).toBe(201);
      return { ...json(res), token: tokenOf(json(res)) } as Json;
    };
    const accept = async (invitation: Json) => {
      const person = await signup(t.app, invitation.email);
      return send(person.headers, 'POST', '/v1/invitations/accept', { token: invitation.token });
    };
    const pendingIds = async () =>
      (json(await send(first.headers, 'GET', `${base}/invitations`)).data as Json[]).map((i) => i.id).sort();
    const members = async () =>
      (json(await send(first.headers, 'GET', `${base}/members`)).data as Json[]).map((m) => m.email);
    return { ws, base, first, second, invite, accept, pendingIds, members };
  }

  const revokedEntries = async (workspaceId: string) =>
    auditRows(t.services, workspaceId, 'invitation.revoked');

  it('removing an Owner revokes the invitations they sent, each audited in the same change', async () => {
    const { ws, base, first, second, invite, accept, pendingIds } = await twoOwners();
    const asOwner = await invite(second.headers, 'owner');
    const asViewer = await invite(second.headers, 'viewer');
    const fromFirst = await invite(first.headers, 'admin');
    const removed = await send(first.headers, 'DELETE', `${base}/members/${second.user.id}`);
    expect(removed.statusCode, removed.body).toBe(204);

    expect(await pendingIds()).toEqual([fromFirst.id]);
    const entries = await revokedEntries(ws.id);
    expect(entries.map((e) => e.target_id).sort()).toEqual([asOwner.id, asViewer.id].sort());
    const [removal] = await auditRows(t.services, ws.id, 'member.removed');
    for (const entry of entries) {
      expect(entry).toMatchObject({ actor_type: 'user', actor_id: first.user.id });
      expect(entry.request_id).toBe(removal?.request_id);
    }
    for (const dead of [asOwner, asViewer]) {
      const res = await accept(dead);
      expect(expectError(res, 404, 'not_found').message).toMatch(/revoked/);
    }
    expect((await accept(fromFirst)).statusCode).toBe(200);
  });

  it('an Owner leaving revokes the invitations they sent too', async () => {
    const { ws, base, second, invite, accept, pendingIds } = await twoOwners();
    const sent = await invite(second.headers, 'owner');
    expect((await send(second.headers, 'DELETE', `${base}/members/${second.user.id}`)).statusCode).toBe(204);
    expect(await pendingIds()).toEqual([]);
    const [entry] = await revokedEntries(ws.id);
    expect(entry).toMatchObject({ target_id: sent.id, actor_id: second.user.id });
    expectError(await accept(sent), 404, 'not_found');
  });

  it('demoting an Owner revokes the invitations they may no longer grant', async () => {
    const { ws, base, first, second, invite, accept, pendingIds } = await twoOwners();
    const sent = await invite(second.headers, 'viewer');
    const fromFirst = await invite(first.headers, 'viewer');
    const demoted = await send(first.headers, 'PATCH', `${base}/members/${second.user.id}`, {
      role: 'admin',
    });
    expect(demoted.statusCode, demoted.body).toBe(200);
    expect(await pendingIds()).toEqual([fromFirst.id]);
    expect((await revokedEntries(ws.id)).map((e) => e.target_id)).toEqual([sent.id]);
    expectError(await accept(sent), 404, 'not_found');
  });

  it('refuses and revokes, at accept, an invitation whose inviter is no longer a member', async () => {
    const { ws, first, second, invite, accept, pendingIds, members } = await twoOwners();
    const sent = await invite(second.headers, 'owner');
    // Left by any other path than the members API (an operator, an older version).
    await t.services.db
      .deleteFrom('members')
      .where('workspace_id', '=', ws.id)
      .where('user_id', '=', second.user.id)
      .execute();
    const res = await accept(sent);
    expect(expectError(res, 404, 'not_found').message).toMatch(/revoked.*may no longer invite/);
    expect(await members()).toEqual([first.user.email]);
    expect(await pendingIds()).toEqual([]);
    const [entry] = await revokedEntries(ws.id);
    expect(entry).toMatchObject({ target_id: sent.id, actor_type: 'system', actor_name: 'tooken' });
    // The link stays dead, with the usual message.
    const again = await send((await signup(t.app)).headers, 'POST', '/v1/invitations/accept', {
      token: sent.token,
    });
    expectError(again, 404, 'not_found');
  });

  it('refuses at accept an invitation whose inviter is no longer an Owner', async () => {
    const { ws, second, invite, accept } = await twoOwners();
    const sent = await invite(second.headers, 'owner');
    await t.services.db
      .updateTable('members')
      .set({ role: 'viewer' })
      .where('workspace_id', '=', ws.id)
      .where('user_id', '=', second.user.id)
      .execute();
    expectError(await accept(sent), 404, 'not_found');
    expect(await revokedEntries(ws.id)).toHaveLength(1);
  });

  it('finds the inviter of an invitation older than the inviter id by their email', async () => {
    const { ws, base, first, second, invite, accept } = await twoOwners();
    const older = await invite(second.headers, 'owner');
    const kept = await invite(first.headers, 'viewer');
    await t.services.db
      .updateTable('invitations')
      .set({ invited_by_id: null })
      .where('id', 'in', [older.id, kept.id])
      .execute();
    expect((await send(first.headers, 'DELETE', `${base}/members/${second.user.id}`)).statusCode).toBe(204);
    expect((await revokedEntries(ws.id)).map((e) => e.target_id)).toEqual([older.id]);
    expectError(await accept(older), 404, 'not_found');
    expect((await accept(kept)).statusCode).toBe(200);
  });

  it('honours invitations from a current Owner, sent by session or personal key', async () => {
    const { ws, first, second, invite, accept, members } = await twoOwners();
    const key = await createApiKey(t.app, second, ws.slug, { name: 'mine', kind: 'personal' });
    const byKey = await invite({ authorization: `Bearer ${key.key}` }, 'admin');
    const bySession = await invite(first.headers, 'owner');
    expect((await accept(byKey)).statusCode).toBe(200);
    expect((await accept(bySession)).statusCode).toBe(200);
    expect(await members()).toHaveLength(4);
    expect(await revokedEntries(ws.id)).toHaveLength(0);
  });

  it('an accept racing the inviter’s removal ends one way or the other, never both', async () => {
    const { ws, base, first, second, invite } = await twoOwners();
    const sent = await invite(second.headers, 'owner');
    const person: Session = await signup(t.app, sent.email);
    const [accepted, removed] = await Promise.all([
      send(person.headers, 'POST', '/v1/invitations/accept', { token: sent.token }),
      send(first.headers, 'DELETE', `${base}/members/${second.user.id}`),
    ]);
    expect(removed.statusCode).toBe(204);
    const status = await t.services.db
      .selectFrom('invitations')
      .select('status')
      .where('id', '=', sent.id)
      .executeTakeFirstOrThrow();
    if (accepted.statusCode === 200) {
      expect(status.status).toBe('accepted');
      expect(await revokedEntries(ws.id)).toHaveLength(0);
    } else {
      expectError(accepted, 404, 'not_found');
      expect(status.status).toBe('revoked');
      expect(await revokedEntries(ws.id)).toHaveLength(1);
    }
  });
});
