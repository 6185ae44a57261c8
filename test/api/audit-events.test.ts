import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExpirySweep } from '../../src/tokens/expiry.js';
import { listAudit, type Reader } from '../audit-support.js';
import {
  bearer,
  createApiKey,
  createTestApp,
  dialects,
  type Json,
  json,
  ownerWorkspace,
  PASSWORD,
  type Session,
  signup,
  type TestApp,
  uniqueEmail,
} from '../helpers.js';

const UA = 'audit-events-test/2.0';

/** docs/audit.md#entries: every implemented event, with its actor, target and changes, after its action. */
describe.each(dialects())('%s: audit events', (dialect) => {
  let t: TestApp;
  /** Every secret issued in this file: none may appear in any audit row. */
  const secrets: string[] = [PASSWORD];
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_PUBLIC_URL: 'https://tooken.example.com' });
  });
  afterAll(() => t.close());

  async function owner(name: string) {
    const { session, ws } = await ownerWorkspace(t.app, { name });
    secrets.push(session.csrf, session.cookie.split('=')[1] ?? session.cookie);
    return { session, ws, reader: { session, slug: ws.slug } as Reader };
  }

  /** A mutating call as a session (slug path) or bearer secret, with a known user agent. */
  async function call(
    as: { session: Session; slug: string } | string,
    method: 'POST' | 'PATCH' | 'DELETE',
    path: string,
    payload?: Json,
  ) {
    const res = await t.app.inject({
      method,
      url: typeof as === 'string' ? `/v1${path}` : `/v1/workspaces/${as.slug}${path}`,
      headers: { ...(typeof as === 'string' ? bearer(as) : as.session.headers), 'user-agent': UA },
      ...(payload === undefined ? {} : { payload }),
    });
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${res.body}`);
    const body = res.body ? json(res) : {};
    for (const field of ['key', 'token'] as const)
      if (typeof body[field] === 'string') secrets.push(body[field]);
    if (typeof body.accept_url === 'string') {
      secrets.push(new URL(body.accept_url).searchParams.get('token') ?? body.accept_url);
    }
    return { body, requestId: String(res.headers['x-request-id']) };
  }

  async function only(reader: Reader, event: string): Promise<Json> {
    const { data } = await listAudit(t, reader, `event=${event}`);
    expect(data).toHaveLength(1);
    return data[0];
  }

  const fromRequest = (requestId: string) => ({ ip: '127.0.0.1', user_agent: UA, request_id: requestId });

  it('workspace.created by its user, then settings_changed with every changed field, old and new', async () => {
    const { session, ws, reader } = await owner('Events Ws');
    const created = await only(reader, 'workspace.created');
    expect(created).toMatchObject({
      event: 'workspace.created',
      actor: { type: 'user', id: session.user.id, name: session.user.email },
      target: { type: 'workspace', id: ws.id, name: 'Events Ws' },
      changes: null,
      ip: '127.0.0.1',
    });
    expect(created.actor).not.toHaveProperty('user_id');
    expect(created.id).toMatch(/^aud_[a-z0-9]{24}$/);
    expect(created.prev_hash).toBe('0'.repeat(64));
    expect(created.hash).toMatch(/^[0-9a-f]{64}$/);

    const slug = `events-${dialect}-renamed`;
    const patch = {
      name: 'Renamed',
      slug,
      timezone: 'Asia/Kolkata',
      default_token_expiration_days: null,
      audit_log_retention_days: 30,
      custom_scopes: ['orders:write'],
      leak_policy: 'notify',
    };
    const { requestId } = await call({ session, slug: ws.slug }, 'PATCH', '/settings', patch);
    const after: Reader = { session, slug };
    const changed = await only(after, 'workspace.settings_changed');
    expect(changed).toMatchObject({
      actor: { type: 'user', id: session.user.id, name: session.user.email },
      target: { type: 'workspace', id: ws.id, name: 'Renamed' },
      ...fromRequest(requestId),
    });
    expect(changed.changes).toEqual({
      name: { from: 'Events Ws', to: 'Renamed' },
      slug: { from: ws.slug, to: slug },
      timezone: { from: 'UTC', to: 'Asia/Kolkata' },
      default_token_expiration_days: { from: 90, to: null },
      audit_log_retention_days: { from: 90, to: 30 },
      custom_scopes: { from: [], to: ['orders:write'] },
      leak_policy: { from: 'revoke', to: 'notify' },
    });
    expect(changed.prev_hash).toBe(created.hash);

    // Only what changes is listed; a PATCH that changes nothing writes nothing.
    await call(after, 'PATCH', '/settings', { name: 'Renamed', timezone: 'Europe/Berlin' });
    await call(after, 'PATCH', '/settings', { name: 'Renamed', audit_log_retention_days: 30 });
    const { data } = await listAudit(t, after, 'event=workspace.settings_changed');
    expect(data.map((e: Json) => e.changes)).toEqual([
      { timezone: { from: 'Asia/Kolkata', to: 'Europe/Berlin' } },
      changed.changes,
    ]);
  });

  it('api_key.created, regenerated and deleted, with a personal key acting as itself and its member', async () => {
    const { session, ws, reader } = await owner('Keys Ws');
    const as = { session, slug: ws.slug };
    const personal = await call(as, 'POST', '/api-keys', { name: 'mine', kind: 'personal' });
    const team = await call(personal.body.key, 'POST', '/api-keys', {
      name: 'ci',
      kind: 'team',
      role: 'viewer',
    });
    const regenerated = await call(personal.body.key, 'POST', `/api-keys/${team.body.id}/regenerate`);
    const deleted = await call(personal.body.key, 'DELETE', `/api-keys/${team.body.id}`);

    const { data } = await listAudit(
      t,
      reader,
      'event=api_key.created&event=api_key.regenerated&event=api_key.deleted',
    );
    const byUser = { type: 'user', id: session.user.id, name: session.user.email };
    const byPersonal = { type: 'api_key', id: personal.body.id, name: 'mine', user_id: session.user.id };
    expect(data.map((e: Json) => [e.event, e.actor, e.target, e.changes, e.request_id])).toStrictEqual([
      [
        'api_key.deleted',
        byPersonal,
        { type: 'api_key', id: team.body.id, name: 'ci' },
        null,
        deleted.requestId,
      ],
      [
        'api_key.regenerated',
        byPersonal,
        { type: 'api_key', id: team.body.id, name: 'ci' },
        null,
        regenerated.requestId,
      ],
      [
        'api_key.created',
        byPersonal,
        { type: 'api_key', id: team.body.id, name: 'ci' },
        null,
        team.requestId,
      ],
      [
        'api_key.created',
        byUser,
        { type: 'api_key', id: personal.body.id, name: 'mine' },
        null,
        personal.requestId,
      ],
    ]);
    for (const e of data) expect(e).toMatchObject({ ip: '127.0.0.1', user_agent: UA });
  });

  it('token.created, revoked, rotated by a team key, a token and a user; token.expired by the system', async () => {
    const { session, ws, reader } = await owner('Tokens Ws');
    const key = await createApiKey(t.app, session, ws.slug, { name: 'deployer', kind: 'team' });
    secrets.push(key.key);
    const worker = await call(key.key, 'POST', '/tokens', {
      name: 'worker',
      scopes: ['tokens:read', 'tokens:write', 'tokens:revoke'],
    });
    const victim = await call(worker.body.token, 'POST', '/tokens', {
      name: 'victim',
      scopes: ['tokens:read'],
    });
    const revoked = await call(worker.body.token, 'DELETE', `/tokens/${victim.body.id}`);
    // Revoking again is a no-op with no second entry (docs/tokens.md#revoke).
    await call(worker.body.token, 'DELETE', `/tokens/${victim.body.id}`);
    const rotated = await call({ session, slug: ws.slug }, 'POST', `/tokens/${worker.body.id}/rotate`, {
      grace_period_seconds: 60,
    });
    const soon = new Date(t.clock.now() + 3_600_000).toISOString();
    const brief = await call(key.key, 'POST', '/tokens', {
      name: 'brief',
      scopes: ['tokens:read'],
      expires_at: soon,
    });

    const byKey = { type: 'api_key', id: key.id, name: 'deployer' };
    const byToken = { type: 'token', id: worker.body.id, name: 'worker' };
    const byUser = { type: 'user', id: session.user.id, name: session.user.email };
    const target = (body: Json) => ({ type: 'token', id: body.id, name: body.name });
    const { data } = await listAudit(
      t,
      reader,
      'event=token.created&event=token.revoked&event=token.rotated',
    );
    expect(data.map((e: Json) => [e.event, e.actor, e.target, e.request_id])).toStrictEqual([
      ['token.created', byKey, target(brief.body), brief.requestId],
      ['token.rotated', byUser, target(worker.body), rotated.requestId],
      ['token.revoked', byToken, target(victim.body), revoked.requestId],
      ['token.created', byToken, target(victim.body), victim.requestId],
      ['token.created', byKey, target(worker.body), worker.requestId],
    ]);

    // Nothing is written before the instant; one entry after it, however often the sweep runs.
    const sweep = createExpirySweep(t.services);
    await sweep();
    expect((await listAudit(t, reader, 'event=token.expired')).data).toEqual([]);
    t.clock.advance(3_600_000);
    await sweep();
    await sweep();
    const expired = await only({ secret: key.key }, 'token.expired');
    expect(expired).toMatchObject({
      actor: { type: 'system', id: null },
      target: target(brief.body),
      changes: null,
      ip: null,
      user_agent: null,
      request_id: null,
    });
    expect(expired.actor).not.toHaveProperty('user_id');
  });

  it('member.invited, joined, role_changed, removed and invitation.revoked', async () => {
    const { session, ws, reader } = await owner('Members Ws');
    const as = { session, slug: ws.slug };
    const personal = await call(as, 'POST', '/api-keys', { name: 'owner-key', kind: 'personal' });
    const email = uniqueEmail('invitee');
    const invited = await call(as, 'POST', '/invitations', { email, role: 'admin' });
    const invitee = await signup(t.app, email);
    secrets.push(invitee.csrf);
    const acceptToken = new URL(invited.body.accept_url).searchParams.get('token');
    const accepted = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations/accept',
      headers: { ...invitee.headers, 'user-agent': UA },
      payload: { token: acceptToken },
    });
    expect(accepted.statusCode).toBe(200);
    const demoted = await call(personal.body.key, 'PATCH', `/members/${invitee.user.id}`, { role: 'viewer' });
    const removed = await call(as, 'DELETE', `/members/${invitee.user.id}`);
    const other = await call(as, 'POST', '/invitations', { email: uniqueEmail('other'), role: 'viewer' });
    const revoked = await call(as, 'DELETE', `/invitations/${other.body.id}`);

    const byOwner = { type: 'user', id: session.user.id, name: session.user.email };
    const member = { type: 'member', id: invitee.user.id, name: email };
    const { data } = await listAudit(t, reader, 'per_page=100');
    const rows = data
      .filter((e: Json) => e.event.startsWith('member.') || e.event.startsWith('invitation.'))
      .map((e: Json) => [e.event, e.actor, e.target, e.changes, e.request_id]);
    expect(rows).toStrictEqual([
      [
        'invitation.revoked',
        byOwner,
        { type: 'invitation', id: other.body.id, name: other.body.email },
        null,
        revoked.requestId,
      ],
      [
        'member.invited',
        byOwner,
        { type: 'invitation', id: other.body.id, name: other.body.email },
        { role: { from: null, to: 'viewer' } },
        other.requestId,
      ],
      ['member.removed', byOwner, member, { role: { from: 'viewer', to: null } }, removed.requestId],
      [
        'member.role_changed',
        { type: 'api_key', id: personal.body.id, name: 'owner-key', user_id: session.user.id },
        member,
        { role: { from: 'admin', to: 'viewer' } },
        demoted.requestId,
      ],
      [
        'member.joined',
        { type: 'user', id: invitee.user.id, name: email },
        member,
        { role: { from: null, to: 'admin' } },
        accepted.headers['x-request-id'],
      ],
      [
        'member.invited',
        byOwner,
        { type: 'invitation', id: invited.body.id, name: email },
        { role: { from: null, to: 'admin' } },
        invited.requestId,
      ],
    ]);
  });

  it('a member leaving on their own is the actor of their removal', async () => {
    const { session, ws, reader } = await owner('Leave Ws');
    const email = uniqueEmail('leaver');
    const invited = await call({ session, slug: ws.slug }, 'POST', '/invitations', { email, role: 'viewer' });
    const leaver = await signup(t.app, email);
    const token = new URL(invited.body.accept_url).searchParams.get('token');
    const accept = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations/accept',
      headers: leaver.headers,
      payload: { token },
    });
    expect(accept.statusCode).toBe(200);
    await call({ session: leaver, slug: ws.slug }, 'DELETE', `/members/${leaver.user.id}`);
    const removed = await only(reader, 'member.removed');
    expect(removed.actor).toStrictEqual({ type: 'user', id: leaver.user.id, name: email });
    expect(removed.target).toStrictEqual({ type: 'member', id: leaver.user.id, name: email });
  });

  it('a refused change writes no entry: entries and changes commit together', async () => {
    const { session, ws } = await owner('Refused Ws');
    const as = { session, slug: ws.slug };
    const first = await call(as, 'POST', '/tokens', { name: 'Dup', scopes: ['tokens:read'] });
    await call(as, 'DELETE', `/tokens/${first.body.id}`);
    // A revoked token's name may be reused: only a live token's name is taken.
    await call(as, 'POST', '/tokens', { name: 'Live', scopes: ['tokens:read'] });
    const count = async () =>
      Number(
        (
          await t.services.db
            .selectFrom('audit_log')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('workspace_id', '=', ws.id)
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = await count();
    const refused = [
      { method: 'POST', url: '/tokens', payload: { name: 'live', scopes: ['tokens:read'] } }, // 409 name
      { method: 'POST', url: `/tokens/${first.body.id}/rotate`, payload: {} }, // 409 revoked
      { method: 'PATCH', url: '/settings', payload: { timezone: 'Mars/Olympus' } }, // 422
      { method: 'PATCH', url: '/settings', payload: { slug: 'Not A Slug' } }, // 400
      { method: 'POST', url: '/api-keys', payload: { name: 'k', kind: 'team', role: 'owner' } }, // 400
      { method: 'PATCH', url: `/members/${session.user.id}`, payload: { role: 'viewer' } }, // 409 last owner
    ] as const;
    for (const r of refused) {
      const res = await t.app.inject({
        method: r.method,
        url: `/v1/workspaces/${ws.slug}${r.url}`,
        headers: session.headers,
        payload: r.payload,
      });
      expect(res.statusCode, `${r.method} ${r.url}`).toBeGreaterThanOrEqual(400);
    }
    expect(await count()).toBe(before);
  });

  describe('the request behind an entry', () => {
    it('records who did it, from where, with the request id', async () => {
      const { session, ws } = await owner('Who');
      const res = await t.app.inject({
        method: 'PATCH',
        url: `/v1/workspaces/${ws.slug}/settings`,
        headers: { ...session.headers, 'user-agent': 'audit-test/1.0' },
        payload: { timezone: 'Europe/Berlin' },
      });
      expect(res.statusCode).toBe(200);
      const row = await t.services.db
        .selectFrom('audit_log')
        .selectAll()
        .where('workspace_id', '=', ws.id)
        .where('event', '=', 'workspace.settings_changed')
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({
        actor_type: 'user',
        actor_id: session.user.id,
        actor_name: session.user.email,
        target_type: 'workspace',
        target_id: ws.id,
        user_agent: 'audit-test/1.0',
        ip: '127.0.0.1',
        request_id: res.headers['x-request-id'],
      });
      expect(JSON.parse(row.changes ?? 'null')).toEqual({ timezone: { from: 'UTC', to: 'Europe/Berlin' } });
    });
  });

  it('no secret issued above appears in any column of any audit row', async () => {
    const rows = await t.services.db.selectFrom('audit_log').selectAll().execute();
    expect(rows.length).toBeGreaterThan(20);
    // Every kind of secret was issued: API keys, tokens (created and rotated), invitation links.
    expect(secrets.filter((s) => s.startsWith('tok_live_')).length).toBeGreaterThanOrEqual(4);
    expect(secrets.filter((s) => s.startsWith('tkn_')).length).toBeGreaterThanOrEqual(4);
    expect(secrets.length).toBeGreaterThan(15);
    const dump = rows.map((row) => Object.values(row).map(String).join('\u0000')).join('\n');
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThanOrEqual(10);
      expect(dump).not.toContain(secret);
    }
    const heads = await t.services.db.selectFrom('audit_heads').selectAll().execute();
    for (const secret of secrets) expect(JSON.stringify(heads)).not.toContain(secret);
  });
});
