import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/accounts/passwords.js';
import { newId } from '../../src/ids.js';
import {
  auditRows,
  bearer,
  createApiKey,
  createTestApp,
  createWorkspace,
  dialects,
  type Json,
  json,
  outboxRows,
  ownerWorkspace,
  PASSWORD,
  type Session,
  sessionFrom,
  signup,
  type TestApp,
  uniqueEmail,
} from '../helpers.js';

const PUBLIC_URL = 'https://tooken.example.com';
const DAY = 24 * 60 * 60 * 1000;
const ACCEPT_URL = /^https:\/\/tooken\.example\.com\/invitations\/accept\?token=([A-Za-z0-9_%-]+)$/;

type Role = 'owner' | 'admin' | 'viewer';

const tokenOf = (invitation: Json): string => {
  const token = new URL(invitation.accept_url).searchParams.get('token');
  if (token === null) throw new Error('no token in accept_url');
  return token;
};

describe.each(dialects())('%s: invitations', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_PUBLIC_URL: `${PUBLIC_URL}/` });
  });
  afterAll(() => t.close());

  const invite = (session: Session, slug: string, email: string, role: Role = 'viewer') =>
    t.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${slug}/invitations`,
      headers: session.headers,
      payload: { email, role },
    });

  const accept = (session: Session, token: string | null) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/invitations/accept',
      headers: session.headers,
      payload: { token },
    });

  const list = (headers: Record<string, string>, slug?: string) =>
    t.app.inject({
      method: 'GET',
      url: slug ? `/v1/workspaces/${slug}/invitations` : '/v1/invitations',
      headers,
    });

  const auditOf = (workspaceId: string, event: string) => auditRows(t.services, workspaceId, event);

  async function workspace(name: string) {
    const { session: owner, ws } = await ownerWorkspace(t.app, { name });
    return { owner, ws };
  }

  async function member(owner: Session, slug: string, role: Role): Promise<Session> {
    const email = uniqueEmail(role);
    const res = await invite(owner, slug, email, role);
    const person = await signup(t.app, email);
    expect((await accept(person, tokenOf(json(res)))).statusCode).toBe(200);
    return person;
  }

  it('creates an invitation with a 7-day link, shown to the Owner, queues its email and audits it', async () => {
    const { owner, ws } = await workspace('Invite Co');
    const email = uniqueEmail('Newcomer').replace('@example.com', '@Example.COM');
    const res = await invite(owner, ws.slug, email, 'admin');
    expect(res.statusCode).toBe(201);
    const body = json(res);
    expect(body).toMatchObject({
      email: email.toLowerCase(),
      role: 'admin',
      status: 'pending',
      invited_by: owner.user.email,
      expires_at: new Date(t.clock.now() + 7 * DAY).toISOString(),
    });
    expect(body.id).toMatch(/^inv_[a-z0-9]{24}$/);
    expect(body.accept_url).toMatch(ACCEPT_URL);

    // The Owner sees the same link in the list.
    const listed = json(await list(owner.headers, ws.slug));
    expect(listed.meta).toEqual({ page: 1, per_page: 25, total: 1 });
    expect(listed.data).toEqual([
      expect.objectContaining({ id: body.id, accept_url: body.accept_url, status: 'pending' }),
    ]);

    // The email and its delivery job were written with it.
    const emails = await t.services.db
      .selectFrom('emails')
      .selectAll()
      .where('ref_id', '=', body.id)
      .execute();
    expect(emails).toHaveLength(1);
    expect(emails[0]).toMatchObject({
      to_address: email.toLowerCase(),
      status: 'pending',
      attempts: 0,
      kind: 'invitation',
    });
    const jobs = await t.services.db
      .selectFrom('jobs')
      .selectAll()
      .where('kind', '=', 'email.send')
      .execute();
    expect(jobs.some((j) => JSON.parse(j.payload).emailId === emails[0]?.id && j.status === 'pending')).toBe(
      true,
    );

    const entries = await auditOf(ws.id, 'member.invited');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actor_type: 'user',
      actor_id: owner.user.id,
      target_type: 'invitation',
      target_id: body.id,
      target_name: email.toLowerCase(),
    });
    expect(JSON.parse(entries[0]?.changes ?? 'null')).toEqual({ role: { from: null, to: 'admin' } });
  });

  it('never stores or logs the invitation secret in clear', async () => {
    const { owner, ws } = await workspace('Secret Keeping');
    const res = await invite(owner, ws.slug, uniqueEmail('secret'), 'viewer');
    const body = json(res);
    const token = tokenOf(body);
    expect(token.length).toBeGreaterThanOrEqual(32);
    const person = await signup(t.app, body.email);
    // Replace one, revoke one, accept one, keep one pending: every state an invitation passes through.
    const replaced = json(await invite(owner, ws.slug, uniqueEmail('other'), 'admin'));
    const revoked = json(await invite(owner, ws.slug, replaced.email, 'viewer'));
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/v1/workspaces/${ws.slug}/invitations/${revoked.id}`,
      headers: owner.headers,
    });
    expect(del.statusCode).toBe(204);
    expect((await accept(person, token)).statusCode).toBe(200);
    // An idempotent create keeps its response for replay: the link must not be kept readable.
    const idemPayload = { email: uniqueEmail('idem'), role: 'viewer' };
    const postOnce = () =>
      t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${ws.slug}/invitations`,
        headers: { ...owner.headers, 'idempotency-key': 'invite-once' },
        payload: idemPayload,
      });
    const idem = await postOnce();
    expect(idem.statusCode).toBe(201);
    const stillPending = json(idem);
    // A replay answers the same invitation (same link) and does not replace it with a new one.
    const replay = await postOnce();
    expect(replay.statusCode).toBe(201);
    expect(json(replay)).toEqual(stillPending);
    const idemRows = await t.services.db
      .selectFrom('invitations')
      .select(['id', 'status'])
      .where('email', '=', idemPayload.email)
      .execute();
    expect(idemRows).toEqual([{ id: stillPending.id, status: 'pending' }]);
    const secrets = [token, tokenOf(replaced), tokenOf(revoked), tokenOf(stillPending)];

    const row = await t.services.db
      .selectFrom('invitations')
      .selectAll()
      .where('id', '=', body.id)
      .executeTakeFirstOrThrow();
    expect(row.digest).toBe(createHash('sha256').update(token).digest('hex'));
    expect(row.secret_sealed).toBeNull(); // nothing readable is kept once the link is used

    for (const table of ['invitations', 'emails', 'jobs', 'audit_log', 'idempotency_keys'] as const) {
      const rows = await t.services.db.selectFrom(table).selectAll().execute();
      const dump = JSON.stringify(rows);
      for (const secret of secrets) {
        expect(dump).not.toContain(secret);
        expect(dump).not.toContain(encodeURIComponent(secret));
      }
    }
    const logs = t.logs.join('');
    for (const secret of secrets) expect(logs).not.toContain(secret);
  });

  it('shows pending invitations to every role, the link only to Owners', async () => {
    const { owner, ws } = await workspace('Visibility');
    const admin = await member(owner, ws.slug, 'admin');
    const viewer = await member(owner, ws.slug, 'viewer');
    const first = json(await invite(owner, ws.slug, uniqueEmail('p1')));
    t.clock.advance(1000);
    const second = json(await invite(owner, ws.slug, uniqueEmail('p2'), 'admin'));

    const ownerList = json(await list(owner.headers, ws.slug));
    expect(ownerList.data.map((i: Json) => i.id)).toEqual([second.id, first.id]);
    expect(ownerList.data.map((i: Json) => i.accept_url)).toEqual([second.accept_url, first.accept_url]);

    const teamKey = await createApiKey(t.app, owner, ws.slug, {
      name: 'team-admin',
      kind: 'team',
      role: 'admin',
    });
    for (const headers of [admin.headers, viewer.headers]) {
      const res = await list(headers, ws.slug);
      expect(res.statusCode).toBe(200);
      expect(json(res).data.map((i: Json) => i.id)).toEqual([second.id, first.id]);
      for (const i of json(res).data) expect(i).not.toHaveProperty('accept_url');
      expect(res.body).not.toContain('token=');
    }
    const byKey = await list(bearer(teamKey.key));
    expect(byKey.statusCode).toBe(200);
    expect(byKey.body).not.toContain('accept_url');

    // An Owner's personal key sees the link (it acts as the Owner).
    const personal = await createApiKey(t.app, owner, ws.slug, { name: 'owner-personal', kind: 'personal' });
    const byOwnerKey = json(await list(bearer(personal.key)));
    expect(byOwnerKey.data.map((i: Json) => i.accept_url)).toEqual([second.accept_url, first.accept_url]);

    // Paging.
    const page2 = await t.app.inject({
      method: 'GET',
      url: `/v1/workspaces/${ws.slug}/invitations?per_page=1&page=2`,
      headers: owner.headers,
    });
    expect(json(page2)).toMatchObject({ meta: { page: 2, per_page: 1, total: 2 } });
    expect(json(page2).data.map((i: Json) => i.id)).toEqual([first.id]);
  });

  it('accepting makes the invited person a member with the invited role, once', async () => {
    const { owner, ws } = await workspace('Joining');
    const email = uniqueEmail('joiner');
    const inv = json(await invite(owner, ws.slug, email.toUpperCase(), 'admin'));
    const person = await signup(t.app, email);
    t.clock.advance(60_000);
    const res = await accept(person, tokenOf(inv));
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({ workspace: { id: ws.id, name: ws.name, slug: ws.slug, role: 'admin' } });

    const me = json(await t.app.inject({ method: 'GET', url: '/v1/me', headers: person.headers }));
    expect(me.workspaces).toEqual([
      { id: ws.id, name: ws.name, slug: ws.slug, role: 'admin', two_factor_required: false },
    ]);
    const members = json(
      await t.app.inject({ method: 'GET', url: `/v1/workspaces/${ws.slug}/members`, headers: owner.headers }),
    );
    expect(members.data.find((m: Json) => m.user_id === person.user.id)).toMatchObject({
      email,
      role: 'admin',
      joined_at: new Date(t.clock.now()).toISOString(),
    });
    // The new member can work in the workspace with their role.
    expect(
      (
        await t.app.inject({
          method: 'GET',
          url: `/v1/workspaces/${ws.slug}/tokens`,
          headers: person.headers,
        })
      ).statusCode,
    ).toBe(200);
    // No longer pending.
    expect(json(await list(owner.headers, ws.slug)).data).toEqual([]);

    const joined = await auditOf(ws.id, 'member.joined');
    expect(joined).toHaveLength(1);
    expect(joined[0]).toMatchObject({
      actor_type: 'user',
      actor_id: person.user.id,
      target_id: person.user.id,
    });
    expect(JSON.parse(joined[0]?.changes ?? 'null')).toEqual({ role: { from: null, to: 'admin' } });

    // Single use.
    const again = await accept(person, tokenOf(inv));
    expect(again.statusCode).toBe(404);
    expect(json(again).message).toMatch(/already been used/);
    expect(await auditOf(ws.id, 'member.joined')).toHaveLength(1);
  });

  it('refuses a link accepted by another account (403) and keeps it valid for the invited one', async () => {
    const { owner, ws } = await workspace('Wrong Account');
    const email = uniqueEmail('right');
    const inv = json(await invite(owner, ws.slug, email, 'viewer'));
    const stranger = await signup(t.app, uniqueEmail('wrong'));
    const res = await accept(stranger, tokenOf(inv));
    expect(res.statusCode).toBe(403);
    expect(json(res).error).toBe('forbidden');
    // The Owner themself is not the invitee either.
    expect((await accept(owner, tokenOf(inv))).statusCode).toBe(403);
    const me = json(await t.app.inject({ method: 'GET', url: '/v1/me', headers: stranger.headers }));
    expect(me.workspaces).toEqual([]);
    expect(json(await list(owner.headers, ws.slug)).data.map((i: Json) => i.id)).toEqual([inv.id]);

    const right = await signup(t.app, email);
    expect((await accept(right, tokenOf(inv))).statusCode).toBe(200);
  });

  it('needs a session with its CSRF header to accept', async () => {
    const { owner, ws } = await workspace('Accept Auth');
    const inv = json(await invite(owner, ws.slug, uniqueEmail('auth')));
    const key = await createApiKey(t.app, owner, ws.slug, { name: 'k', kind: 'personal' });
    const byKey = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations/accept',
      headers: bearer(key.key),
      payload: { token: tokenOf(inv) },
    });
    expect(byKey.statusCode).toBe(403);
    const anonymous = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations/accept',
      payload: { token: tokenOf(inv) },
    });
    expect(anonymous.statusCode).toBe(401);
    const person = await signup(t.app, inv.email);
    const noCsrf = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations/accept',
      headers: { cookie: person.cookie },
      payload: { token: tokenOf(inv) },
    });
    expect(noCsrf.statusCode).toBe(403);
    expect((await accept(person, '')).statusCode).toBe(400);
    expect((await accept(person, tokenOf(inv))).statusCode).toBe(200);
  });

  it('answers 404 with a distinct message for unknown, used, revoked and expired links', async () => {
    const { owner, ws } = await workspace('Dead Links');
    const messages: Record<string, string> = {};

    const person = await signup(t.app, uniqueEmail('dead'));
    const unknown = await accept(person, 'definitely-not-a-real-invitation-secret');
    expect(unknown.statusCode).toBe(404);
    messages.unknown = json(unknown).message;

    const used = json(await invite(owner, ws.slug, person.user.email));
    expect((await accept(person, tokenOf(used))).statusCode).toBe(200);
    const usedAgain = await accept(person, tokenOf(used));
    expect(usedAgain.statusCode).toBe(404);
    messages.used = json(usedAgain).message;

    const revokedInv = json(await invite(owner, ws.slug, uniqueEmail('revoked')));
    const revokedPerson = await signup(t.app, revokedInv.email);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/v1/workspaces/${ws.slug}/invitations/${revokedInv.id}`,
      headers: owner.headers,
    });
    expect(del.statusCode).toBe(204);
    const revoked = await accept(revokedPerson, tokenOf(revokedInv));
    expect(revoked.statusCode).toBe(404);
    messages.revoked = json(revoked).message;

    const expiringInv = json(await invite(owner, ws.slug, uniqueEmail('late')));
    const latePerson = await signup(t.app, expiringInv.email);
    t.clock.advance(7 * DAY - 1);
    expect(json(await list(owner.headers, ws.slug)).data.map((i: Json) => i.id)).toEqual([expiringInv.id]);
    t.clock.advance(1);
    const expired = await accept(latePerson, tokenOf(expiringInv));
    expect(expired.statusCode).toBe(404);
    messages.expired = json(expired).message;
    // An expired invitation is no longer pending.
    expect(json(await list(owner.headers, ws.slug)).data).toEqual([]);

    for (const res of [unknown, usedAgain, revoked, expired]) expect(json(res).error).toBe('not_found');
    expect(messages.used).toMatch(/used/i);
    expect(messages.revoked).toMatch(/revoked/i);
    expect(messages.expired).toMatch(/expired/i);
    expect(new Set(Object.values(messages)).size).toBe(4);
    const me = json(await t.app.inject({ method: 'GET', url: '/v1/me', headers: latePerson.headers }));
    expect(me.workspaces).toEqual([]);
  });

  it('re-inviting an address replaces its pending invitation: the old link dies', async () => {
    const { owner, ws } = await workspace('Reinvite');
    const email = uniqueEmail('twice');
    const first = json(await invite(owner, ws.slug, email, 'viewer'));
    t.clock.advance(DAY);
    const secondRes = await invite(owner, ws.slug, email.toUpperCase(), 'admin');
    expect(secondRes.statusCode).toBe(201);
    const second = json(secondRes);
    expect(second.id).not.toBe(first.id);
    expect(second.accept_url).not.toBe(first.accept_url);
    expect(second.expires_at).toBe(new Date(t.clock.now() + 7 * DAY).toISOString());

    const pending = json(await list(owner.headers, ws.slug)).data;
    expect(pending.map((i: Json) => i.id)).toEqual([second.id]);

    const person = await signup(t.app, email);
    const old = await accept(person, tokenOf(first));
    expect(old.statusCode).toBe(404);
    const res = await accept(person, tokenOf(second));
    expect(res.statusCode).toBe(200);
    expect(json(res).workspace.role).toBe('admin');
    expect(await auditOf(ws.id, 'member.invited')).toHaveLength(2);
  });

  it('audits the link a re-invitation kills as invitation.revoked, with its webhook event', async () => {
    const { owner, ws } = await workspace('Reinvite Audited');
    const email = uniqueEmail('twice');
    const first = json(await invite(owner, ws.slug, email, 'viewer'));
    t.clock.advance(DAY);
    const secondRes = await invite(owner, ws.slug, email, 'admin');
    const second = json(secondRes);

    const revoked = await auditOf(ws.id, 'invitation.revoked');
    expect(revoked.map((e) => [e.actor_id, e.target_type, e.target_id, e.target_name, e.request_id])).toEqual(
      [[owner.user.id, 'invitation', first.id, email, secondRes.headers['x-request-id']]],
    );
    expect(JSON.parse(revoked[0]?.changes ?? 'null')).toEqual({ replaced_by: { from: null, to: second.id } });
    // In the re-invitation's transaction, just before its own member.invited entry.
    const invited = await auditOf(ws.id, 'member.invited');
    expect(invited.map((e) => e.target_id)).toEqual([first.id, second.id]);
    expect(Number(invited[1]?.seq)).toBe(Number(revoked[0]?.seq) + 1);
    const events = await outboxRows(t.services, ws.id, 'invitation.revoked');
    expect(events.map((e) => JSON.parse(e.payload).target)).toEqual([
      { type: 'invitation', id: first.id, name: email },
    ]);

    // A link that had already expired is not killed by the next invitation: nothing to record.
    t.clock.advance(8 * DAY);
    const third = json(await invite(owner, ws.slug, email, 'viewer'));
    expect(third.id).not.toBe(second.id);
    expect(await auditOf(ws.id, 'invitation.revoked')).toHaveLength(1);
  });

  it('keeps one pending invitation per address even when invited concurrently', async () => {
    const { owner, ws } = await workspace('Concurrent Invites');
    const email = uniqueEmail('rush');
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => invite(owner, ws.slug, email, i % 2 === 0 ? 'viewer' : 'admin')),
    );
    for (const res of results) expect(res.statusCode).toBe(201);
    const pending = await t.services.db
      .selectFrom('invitations')
      .select(['id'])
      .where('workspace_id', '=', ws.id)
      .where('email', '=', email)
      .where('status', '=', 'pending')
      .execute();
    expect(pending).toHaveLength(1);
    const live = results.map(json).find((body) => body.id === pending[0]?.id);
    expect(json(await list(owner.headers, ws.slug)).data.map((i: Json) => i.id)).toEqual([live?.id]);
    // Only the surviving link works.
    const person = await signup(t.app, email);
    for (const body of results.map(json)) {
      if (body.id !== live?.id) expect((await accept(person, tokenOf(body))).statusCode).toBe(404);
    }
    expect((await accept(person, tokenOf(live ?? {}))).statusCode).toBe(200);
    // Every link replaced along the way was audited as revoked, once.
    const revoked = await auditOf(ws.id, 'invitation.revoked');
    const dead = results.map(json).filter((body) => body.id !== live?.id);
    expect(revoked.map((e) => e.target_id).sort()).toEqual(dead.map((body) => body.id).sort());
  });

  it('lets one of two concurrent accepts win', async () => {
    const { owner, ws } = await workspace('Double Accept');
    const inv = json(await invite(owner, ws.slug, uniqueEmail('double'), 'admin'));
    const person = await signup(t.app, inv.email);
    const results = await Promise.all([accept(person, tokenOf(inv)), accept(person, tokenOf(inv))]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 404]);
    expect(await auditOf(ws.id, 'member.joined')).toHaveLength(1);
  });

  it('an accept racing a revoke ends one way or the other, never both', async () => {
    const { owner, ws } = await workspace('Accept Or Revoke');
    for (let round = 0; round < 6; round++) {
      const inv = json(await invite(owner, ws.slug, uniqueEmail(`race${round}`), 'viewer'));
      const person = await signup(t.app, inv.email);
      const [accepted, revoked] = await Promise.all([
        accept(person, tokenOf(inv)),
        t.app.inject({
          method: 'DELETE',
          url: `/v1/workspaces/${ws.slug}/invitations/${inv.id}`,
          headers: owner.headers,
        }),
      ]);
      const row = await t.services.db
        .selectFrom('invitations')
        .select('status')
        .where('id', '=', inv.id)
        .executeTakeFirstOrThrow();
      const isMember = json(
        await t.app.inject({ method: 'GET', url: '/v1/me', headers: person.headers }),
      ).workspaces.some((w: Json) => w.id === ws.id);
      if (accepted.statusCode === 200) {
        expect(revoked.statusCode).toBe(404);
        expect(row.status).toBe('accepted');
        expect(isMember).toBe(true);
      } else {
        expect(accepted.statusCode).toBe(404);
        expect(revoked.statusCode).toBe(204);
        expect(row.status).toBe('revoked');
        expect(isMember).toBe(false);
      }
    }
    // One audit entry per outcome: never both a join and a revocation of one invitation.
    const joined = (await auditOf(ws.id, 'member.joined')).length;
    const revokedEntries = await auditOf(ws.id, 'invitation.revoked');
    expect(joined + revokedEntries.length).toBe(6);
  });

  it('refuses to invite an existing member (409)', async () => {
    const { owner, ws } = await workspace('Already In');
    const res = await invite(owner, ws.slug, owner.user.email.toUpperCase(), 'admin');
    expect(res.statusCode).toBe(409);
    expect(json(res).error).toBe('conflict');
    const viewer = await member(owner, ws.slug, 'viewer');
    expect((await invite(owner, ws.slug, viewer.user.email, 'admin')).statusCode).toBe(409);
    expect(json(await list(owner.headers, ws.slug)).data).toEqual([]);
    expect(await auditOf(ws.id, 'member.invited')).toHaveLength(1);
    // Someone with an account who is not a member may be invited.
    const outsider = await signup(t.app, uniqueEmail('outsider'));
    expect((await invite(owner, ws.slug, outsider.user.email, 'viewer')).statusCode).toBe(201);
  });

  it('validates the invitation body (400)', async () => {
    const { owner, ws } = await workspace('Validation');
    const post = (payload: Json) =>
      t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${ws.slug}/invitations`,
        headers: owner.headers,
        payload,
      });
    for (const payload of [
      { email: 'not-an-email', role: 'viewer' },
      { email: uniqueEmail(), role: 'superuser' },
      { email: uniqueEmail() },
      { role: 'viewer' },
      { email: uniqueEmail(), role: 'viewer', extra: true },
    ]) {
      const res = await post(payload);
      expect(res.statusCode).toBe(400);
      expect(json(res).error).toBe('bad_request');
    }
    expect(json(await list(owner.headers, ws.slug)).data).toEqual([]);
  });

  it('lets an Owner revoke a pending invitation: link dead, audited; others get 403/404', async () => {
    const { owner, ws } = await workspace('Revoking');
    const admin = await member(owner, ws.slug, 'admin');
    const viewer = await member(owner, ws.slug, 'viewer');
    const inv = json(await invite(owner, ws.slug, uniqueEmail('revokee'), 'viewer'));
    const url = `/v1/workspaces/${ws.slug}/invitations/${inv.id}`;

    for (const who of [admin, viewer]) {
      expect((await t.app.inject({ method: 'DELETE', url, headers: who.headers })).statusCode).toBe(403);
    }
    const teamKey = await createApiKey(t.app, owner, ws.slug, { name: 'team', kind: 'team', role: 'admin' });
    expect(
      (
        await t.app.inject({
          method: 'DELETE',
          url: `/v1/invitations/${inv.id}`,
          headers: bearer(teamKey.key),
        })
      ).statusCode,
    ).toBe(403);

    // Another workspace's Owner cannot see or revoke it.
    const other = await workspace('Revoking Other');
    expect(
      (
        await t.app.inject({
          method: 'DELETE',
          url: `/v1/workspaces/${other.ws.slug}/invitations/${inv.id}`,
          headers: other.owner.headers,
        })
      ).statusCode,
    ).toBe(404);
    expect(json(await list(other.owner.headers, other.ws.slug)).data).toEqual([]);

    const res = await t.app.inject({ method: 'DELETE', url, headers: owner.headers });
    expect(res.statusCode).toBe(204);
    expect(json(await list(owner.headers, ws.slug)).data).toEqual([]);
    expect((await t.app.inject({ method: 'DELETE', url, headers: owner.headers })).statusCode).toBe(404);
    expect(
      (
        await t.app.inject({
          method: 'DELETE',
          url: `/v1/workspaces/${ws.slug}/invitations/inv_unknown`,
          headers: owner.headers,
        })
      ).statusCode,
    ).toBe(404);

    const person = await signup(t.app, inv.email);
    const dead = await accept(person, tokenOf(inv));
    expect(dead.statusCode).toBe(404);
    expect(json(dead).message).toMatch(/revoked/i);

    const entries = await auditOf(ws.id, 'invitation.revoked');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actor_type: 'user',
      actor_id: owner.user.id,
      target_type: 'invitation',
      target_id: inv.id,
      target_name: inv.email,
    });
    // The email for a revoked invitation is never sent.
    const email = await t.services.db
      .selectFrom('emails')
      .selectAll()
      .where('ref_id', '=', inv.id)
      .executeTakeFirstOrThrow();
    expect(['pending', 'cancelled']).toContain(email.status);
  });

  it('an Owner role invitation makes an Owner; a personal key of an Owner invites as its person', async () => {
    const { owner, ws } = await workspace('Co Owners');
    const key = await createApiKey(t.app, owner, ws.slug, { name: 'owner-key', kind: 'personal' });
    const email = uniqueEmail('coowner');
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations',
      headers: bearer(key.key),
      payload: { email, role: 'owner' },
    });
    expect(res.statusCode).toBe(201);
    expect(json(res)).toMatchObject({ invited_by: owner.user.email, role: 'owner' });
    expect(json(res).accept_url).toMatch(ACCEPT_URL);
    const entry = (await auditOf(ws.id, 'member.invited'))[0];
    expect(entry).toMatchObject({ actor_type: 'api_key', actor_id: key.id, actor_user_id: owner.user.id });
    const person = await signup(t.app, email);
    expect(json(await accept(person, tokenOf(json(res)))).workspace.role).toBe('owner');
    // Now two Owners: the first may step down.
    const patch = await t.app.inject({
      method: 'PATCH',
      url: `/v1/workspaces/${ws.slug}/members/${owner.user.id}`,
      headers: person.headers,
      payload: { role: 'viewer' },
    });
    expect(patch.statusCode).toBe(200);
  });
});

describe.each(dialects())('%s: invitations and sign-up modes', (dialect) => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  async function app(signupMode: 'closed' | 'first-user'): Promise<TestApp> {
    const t = await createTestApp(dialect, { TOOKEN_SIGNUP: signupMode, TOOKEN_PUBLIC_URL: PUBLIC_URL });
    apps.push(t);
    return t;
  }

  const signupRes = (t: TestApp, email: string, invitationToken?: string) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/auth/signup',
      payload: {
        email,
        password: PASSWORD,
        ...(invitationToken === undefined ? {} : { invitation_token: invitationToken }),
      },
    });

  /** With sign-up closed there is no way in through the API: the first account is made directly. */
  async function ownerOf(t: TestApp): Promise<Session> {
    const email = uniqueEmail('admin');
    await t.services.db
      .insertInto('users')
      .values({
        id: newId('usr'),
        email,
        name: null,
        created_at: t.clock.now(),
        password_hash: await hashPassword(PASSWORD),
      })
      .execute();
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email, password: PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    return sessionFrom(res);
  }

  const inviteIn = (t: TestApp, owner: Session, slug: string, email: string) =>
    t.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${slug}/invitations`,
      headers: owner.headers,
      payload: { email, role: 'admin' },
    });

  it('closed: only an address with a pending invitation may sign up, and it can then accept', async () => {
    const t = await app('closed');
    const owner = await ownerOf(t);
    const ws = await createWorkspace(t.app, owner, 'Closed Shop');

    const stranger = await signupRes(t, uniqueEmail('stranger'));
    expect(stranger.statusCode).toBe(403);

    const email = uniqueEmail('invitee');
    const inv = json(await inviteIn(t, owner, ws.slug, email));
    // Someone else still may not, not even with the link.
    expect((await signupRes(t, uniqueEmail('other'))).statusCode).toBe(403);
    expect((await signupRes(t, uniqueEmail('other'), tokenOf(inv))).statusCode).toBe(403);
    // Nor may the invited address without the link.
    expect((await signupRes(t, email)).statusCode).toBe(403);
    // The invited address with its link may, whatever its case.
    const res = await signupRes(t, email.toUpperCase(), tokenOf(inv));
    expect(res.statusCode).toBe(201);
    const person = sessionFrom(res);
    const accepted = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations/accept',
      headers: person.headers,
      payload: { token: tokenOf(inv) },
    });
    expect(accepted.statusCode).toBe(200);
    expect(json(accepted).workspace).toMatchObject({ id: ws.id, role: 'admin' });

    // A revoked invitation no longer opens sign-up, nor does an expired one.
    const revokedEmail = uniqueEmail('revoked');
    const revoked = json(await inviteIn(t, owner, ws.slug, revokedEmail));
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/v1/workspaces/${ws.slug}/invitations/${revoked.id}`,
      headers: owner.headers,
    });
    expect(del.statusCode).toBe(204);
    expect((await signupRes(t, revokedEmail, tokenOf(revoked))).statusCode).toBe(403);

    const lateEmail = uniqueEmail('late');
    const late = json(await inviteIn(t, owner, ws.slug, lateEmail));
    t.clock.advance(7 * DAY);
    expect((await signupRes(t, lateEmail, tokenOf(late))).statusCode).toBe(403);
  });

  it('first-user: the first person signs up, later only invited addresses', async () => {
    const t = await app('first-user');
    const firstRes = await signupRes(t, uniqueEmail('first'));
    expect(firstRes.statusCode).toBe(201);
    const first = sessionFrom(firstRes);
    const ws = await createWorkspace(t.app, first, 'First Users');
    expect((await signupRes(t, uniqueEmail('second'))).statusCode).toBe(403);
    const email = uniqueEmail('invited');
    const inv = json(await inviteIn(t, first, ws.slug, email));
    expect((await signupRes(t, email)).statusCode).toBe(403);
    const res = await signupRes(t, email, tokenOf(inv));
    expect(res.statusCode).toBe(201);
    const accepted = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations/accept',
      headers: sessionFrom(res).headers,
      payload: { token: tokenOf(inv) },
    });
    expect(accepted.statusCode).toBe(200);
  });
});

describe.each(dialects())('%s: invitations and sign-up modes, the review’s reproduction', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_SIGNUP: 'first-user', TOOKEN_PUBLIC_URL: PUBLIC_URL });
  });
  afterAll(() => t.close());

  it('a Viewer who lists an invitation cannot take its address; the invitee signs up with the link and joins', async () => {
    const owner = await signup(t.app, uniqueEmail('first'));
    const ws = await createWorkspace(t.app, owner, 'Listed Invites');
    const invite = (email: string, role: Role) =>
      t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${ws.slug}/invitations`,
        headers: owner.headers,
        payload: { email, role },
      });
    const viewerEmail = uniqueEmail('viewer');
    const viewerInvite = json(await invite(viewerEmail, 'viewer'));
    const viewerSignup = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/signup',
      payload: { email: viewerEmail, password: PASSWORD, invitation_token: tokenOf(viewerInvite) },
    });
    expect(viewerSignup.statusCode).toBe(201);
    const viewer = sessionFrom(viewerSignup);
    const joined = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations/accept',
      headers: viewer.headers,
      payload: { token: tokenOf(viewerInvite) },
    });
    expect(joined.statusCode).toBe(200);

    const adminEmail = uniqueEmail('future.admin');
    const adminInvite = json(await invite(adminEmail, 'admin'));
    const listed = await t.app.inject({
      method: 'GET',
      url: `/v1/workspaces/${ws.slug}/invitations`,
      headers: viewer.headers,
    });
    expect(json(listed).data.map((i: Json) => i.email)).toContain(adminEmail);

    const squat = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/signup',
      payload: { email: adminEmail, password: 'attacker chosen password' },
    });
    expect(squat.statusCode).toBe(403);
    const real = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/signup',
      payload: { email: adminEmail, password: PASSWORD, invitation_token: tokenOf(adminInvite) },
    });
    expect(real.statusCode).toBe(201);
    const accepted = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations/accept',
      headers: sessionFrom(real).headers,
      payload: { token: tokenOf(adminInvite) },
    });
    expect(accepted.statusCode).toBe(200);
    expect(json(accepted).workspace).toMatchObject({ id: ws.id, role: 'admin' });
  });
});

describe.each(dialects())('%s: the invitation link without TOOKEN_PUBLIC_URL', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_HOST: '127.0.0.1', TOOKEN_PORT: '9099' });
  });
  afterAll(() => t.close());

  it('is built from the host and port', async () => {
    const { session: owner, ws } = await ownerWorkspace(t.app, { name: 'Local' });
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${ws.slug}/invitations`,
      headers: owner.headers,
      payload: { email: uniqueEmail(), role: 'viewer' },
    });
    expect(res.statusCode).toBe(201);
    expect(json(res).accept_url).toMatch(
      /^http:\/\/127\.0\.0\.1:9099\/invitations\/accept\?token=[A-Za-z0-9_-]+$/,
    );
  });
});
