import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAs, listAudit, type Reader, recordEntries, seedChain } from '../audit-support.js';
import {
  addMember,
  bearer,
  createApiKey,
  createTestApp,
  dialects,
  type Json,
  json,
  ownerWorkspace,
  type Session,
  signup,
  type TestApp,
  uniqueEmail,
} from '../helpers.js';

/** docs/audit.md#reading-the-log (reading) and §2.3 (who may read). */
describe.each(dialects())('%s: GET /v1/audit-logs', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_RATE_LIMIT_PER_MINUTE: '100000' });
  });
  afterAll(() => t.close());

  async function workspace(name: string) {
    const { session, ws } = await ownerWorkspace(t.app, { name });
    return { session, ws, reader: { session, slug: ws.slug } as Reader };
  }

  async function memberSession(workspaceId: string, role: 'admin' | 'viewer'): Promise<Session> {
    const session = await signup(t.app, uniqueEmail(role));
    await addMember(t.services, workspaceId, session.user.id, role);
    return session;
  }

  async function issueToken(owner: Session, slug: string, scopes: string[]): Promise<string> {
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/workspaces/${slug}/tokens`,
      headers: owner.headers,
      payload: { name: `t-${scopes.join('-')}-${Math.random()}`, scopes },
    });
    expect(res.statusCode).toBe(201);
    return json(res).token;
  }

  describe('access', () => {
    let owner: Session;
    let ws: Json;
    let other: { session: Session; ws: Json };
    beforeAll(async () => {
      ({ session: owner, ws } = await workspace('Access'));
      other = await workspace('Elsewhere');
    });

    const paths = ['/audit-logs', '/audit-logs/export'];

    it('Owner, Admin, an Admin key (team or personal) and a token with audit:read may read and export', async () => {
      const admin = await memberSession(ws.id, 'admin');
      const adminTeamKey = (
        await createApiKey(t.app, owner, ws.slug, { name: 'admin-team', kind: 'team', role: 'admin' })
      ).key;
      const adminPersonalKey = (
        await createApiKey(t.app, admin, ws.slug, { name: 'admin-own', kind: 'personal' })
      ).key;
      const auditToken = await issueToken(owner, ws.slug, ['audit:read']);
      const readers: Reader[] = [
        { session: owner, slug: ws.slug },
        { session: admin, slug: ws.slug },
        { secret: adminTeamKey },
        { secret: adminPersonalKey },
        { secret: auditToken },
      ];
      for (const reader of readers) {
        for (const path of paths) {
          const res = await getAs(t, reader, path);
          expect(res.statusCode, `${path} ${JSON.stringify(reader)}`).toBe(200);
        }
      }
      // A credential may name its own workspace in the path too.
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/workspaces/${ws.slug}/audit-logs`,
        headers: bearer(auditToken),
      });
      expect(res.statusCode).toBe(200);
    });

    it('a Viewer, a viewer key (team or personal) and a token without audit:read get 403', async () => {
      const viewer = await memberSession(ws.id, 'viewer');
      const viewerTeamKey = (
        await createApiKey(t.app, owner, ws.slug, { name: 'viewer-team', kind: 'team', role: 'viewer' })
      ).key;
      const viewerPersonalKey = (
        await createApiKey(t.app, viewer, ws.slug, { name: 'viewer-own', kind: 'personal' })
      ).key;
      const busyToken = await issueToken(owner, ws.slug, ['tokens:read', 'tokens:write', 'webhooks:read']);
      const readers: Reader[] = [
        { session: viewer, slug: ws.slug },
        { secret: viewerTeamKey },
        { secret: viewerPersonalKey },
        { secret: busyToken },
      ];
      for (const reader of readers) {
        for (const path of paths) {
          const res = await getAs(t, reader, path);
          expect(res.statusCode, `${path} ${JSON.stringify(reader)}`).toBe(403);
          expect(json(res).error).toBe('forbidden');
        }
      }
    });

    it("another workspace's log is 404, never 403; no credential is 401", async () => {
      const ownKey = (await createApiKey(t.app, owner, ws.slug)).key;
      for (const path of paths) {
        const bySession = await t.app.inject({
          method: 'GET',
          url: `/v1/workspaces/${other.ws.slug}${path}`,
          headers: owner.headers,
        });
        expect(bySession.statusCode).toBe(404);
        const byKey = await t.app.inject({
          method: 'GET',
          url: `/v1/workspaces/${other.ws.slug}${path}`,
          headers: bearer(ownKey),
        });
        expect(byKey.statusCode).toBe(404);
        const anonymous = await t.app.inject({ method: 'GET', url: `/v1${path}` });
        expect(anonymous.statusCode).toBe(401);
      }
      // And nothing of the other workspace leaks into this one's log.
      const { data } = await listAudit(t, { secret: ownKey }, 'per_page=100');
      expect(data.length).toBeGreaterThan(0);
      for (const entry of data) expect(JSON.stringify(entry)).not.toContain(other.ws.id);
    });
  });

  describe('filters', () => {
    let reader: Reader;
    let ws: Json;
    let owner: Session;
    /** Entries oldest first, one second apart. */
    let entries: Json[];
    beforeAll(async () => {
      ({ session: owner, ws, reader } = await workspace('Filters'));
      const key = await createApiKey(t.app, owner, ws.slug, { name: 'filter-key', kind: 'team' });
      for (const name of ['one', 'two', 'three']) {
        t.clock.advance(1000);
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/tokens',
          headers: bearer(key.key),
          payload: { name, scopes: ['tokens:read'] },
        });
        expect(res.statusCode).toBe(201);
        t.clock.advance(1000);
        const del = await t.app.inject({
          method: 'DELETE',
          url: `/v1/tokens/${json(res).id}`,
          headers: bearer(key.key),
        });
        expect(del.statusCode).toBe(204);
      }
      t.clock.advance(1000);
      await t.app.inject({
        method: 'PATCH',
        url: `/v1/workspaces/${ws.slug}/settings`,
        headers: owner.headers,
        payload: { name: 'Filtered' },
      });
      entries = (await listAudit(t, reader, 'per_page=100')).data.reverse();
      expect(entries.map((e) => e.event)).toEqual([
        'workspace.created',
        'api_key.created',
        'token.created',
        'token.revoked',
        'token.created',
        'token.revoked',
        'token.created',
        'token.revoked',
        'workspace.settings_changed',
      ]);
    });

    const ids = (data: Json[]) => data.map((e) => e.id);
    const newestFirst = (list: Json[]) => ids([...list].reverse());

    it('from is inclusive and to exclusive, exactly at an entry’s created_at', async () => {
      const third = entries[3] as Json; // token.revoked of "one", alone at its instant
      const at = third.created_at as string;
      expect(entries.filter((e) => e.created_at === at)).toHaveLength(1);
      const from = await listAudit(t, reader, `per_page=100&from=${encodeURIComponent(at)}`);
      expect(ids(from.data)).toEqual(newestFirst(entries.slice(3)));
      expect(from.meta.total).toBe(entries.length - 3);
      const to = await listAudit(t, reader, `per_page=100&to=${encodeURIComponent(at)}`);
      expect(ids(to.data)).toEqual(newestFirst(entries.slice(0, 3)));
      const both = await listAudit(
        t,
        reader,
        `from=${encodeURIComponent(at)}&to=${encodeURIComponent(entries[5]?.created_at)}`,
      );
      expect(ids(both.data)).toEqual(newestFirst(entries.slice(3, 5)));
      // An empty range is empty, a range around one instant holds exactly that instant.
      expect((await listAudit(t, reader, `from=${at}&to=${at}`)).data).toEqual([]);
      const plusOne = new Date(Date.parse(at) + 1).toISOString();
      expect(ids((await listAudit(t, reader, `from=${at}&to=${plusOne}`)).data)).toEqual([third.id]);
      // Offsets are honoured: the same instant written in +05:30.
      const local = new Date(Date.parse(at) + 5.5 * 3_600_000).toISOString().replace('Z', '+05:30');
      expect(
        ids((await listAudit(t, reader, `per_page=100&from=${encodeURIComponent(local)}`)).data),
      ).toEqual(newestFirst(entries.slice(3)));
    });

    it('from and to accept dates (midnight UTC); anything unparseable is 422', async () => {
      expect((await listAudit(t, reader, 'per_page=100&from=2026-01-15')).data).toHaveLength(entries.length);
      expect((await listAudit(t, reader, 'per_page=100&to=2026-01-15')).data).toHaveLength(0);
      expect((await listAudit(t, reader, 'per_page=100&to=2026-01-16')).data).toHaveLength(entries.length);
      const invalid = [
        'yesterday',
        '2026-13-01',
        '2026-02-30',
        '2026-04-31T10:00:00Z',
        '2026-01-15T24:00:00Z',
      ];
      for (const bad of [...invalid, '2026-01-15T10:00:00', '15/01/2026', '1768467600000', '']) {
        const res = await getAs(t, reader, `/audit-logs?from=${encodeURIComponent(bad)}`);
        expect(res.statusCode, bad).toBe(422);
        expect(json(res)).toMatchObject({
          error: 'unprocessable_entity',
          details: [expect.objectContaining({ field: 'from' })],
        });
        const to = await getAs(t, reader, `/audit-logs?to=${encodeURIComponent(bad)}`);
        expect(to.statusCode, bad).toBe(422);
      }
    });

    it('event (repeatable), actor_id and target_id narrow the list and combine', async () => {
      const revoked = entries.filter((e) => e.event === 'token.revoked');
      expect(ids((await listAudit(t, reader, 'event=token.revoked')).data)).toEqual(newestFirst(revoked));
      const two = await listAudit(t, reader, 'event=token.revoked&event=workspace.created&per_page=100');
      expect(ids(two.data)).toEqual(
        newestFirst(entries.filter((e) => e.event === 'token.revoked' || e.event === 'workspace.created')),
      );
      expect(two.meta.total).toBe(4);
      expect((await listAudit(t, reader, 'event=no.such.event')).data).toEqual([]);

      const keyId = (entries[1] as Json).target.id;
      const byKey = await listAudit(t, reader, `actor_id=${keyId}&per_page=100`);
      expect(ids(byKey.data)).toEqual(newestFirst(entries.filter((e) => e.actor.id === keyId)));
      expect(byKey.data).toHaveLength(6);
      const byOwner = await listAudit(t, reader, `actor_id=${owner.user.id}`);
      expect(byOwner.data.map((e: Json) => e.event)).toEqual([
        'workspace.settings_changed',
        'api_key.created',
        'workspace.created',
      ]);

      const tokenId = (entries[4] as Json).target.id;
      const byTarget = await listAudit(t, reader, `target_id=${tokenId}`);
      expect(byTarget.data.map((e: Json) => e.event)).toEqual(['token.revoked', 'token.created']);
      const combined = await listAudit(
        t,
        reader,
        `target_id=${tokenId}&event=token.created&actor_id=${keyId}`,
      );
      expect(ids(combined.data)).toEqual([entries[4]?.id]);
      expect((await listAudit(t, reader, `target_id=${tokenId}&actor_id=${owner.user.id}`)).data).toEqual([]);
      // Filters apply to cursor paging as well.
      const cursor = await listAudit(t, reader, `limit=2&event=token.created&event=token.revoked`);
      expect(ids(cursor.data)).toEqual(newestFirst(entries.slice(6, 8)));
      const next = await listAudit(
        t,
        reader,
        `limit=10&event=token.created&event=token.revoked&cursor=${cursor.meta.next_cursor}`,
      );
      expect(ids(next.data)).toEqual(newestFirst(entries.slice(2, 6)));
      expect(next.meta.next_cursor).toBeNull();
    });

    it('page/per_page: newest first, total, empty past the end, bounds checked', async () => {
      const p1 = await listAudit(t, reader, 'page=1&per_page=4');
      expect(p1.meta).toEqual({ page: 1, per_page: 4, total: entries.length });
      expect(ids(p1.data)).toEqual(newestFirst(entries).slice(0, 4));
      const p3 = await listAudit(t, reader, 'page=3&per_page=4');
      expect(ids(p3.data)).toEqual(newestFirst(entries).slice(8));
      expect((await listAudit(t, reader, 'page=4&per_page=4')).data).toEqual([]);
      const defaults = await listAudit(t, reader);
      expect(defaults.meta).toEqual({ page: 1, per_page: 25, total: entries.length });
      for (const bad of ['page=0', 'per_page=0', 'per_page=101', 'page=x', 'unknown=1']) {
        expect((await getAs(t, reader, `/audit-logs?${bad}`)).statusCode, bad).toBe(400);
      }
    });

    it('cursor paging: limit bounds, bad cursors and mixing with page/per_page are 400', async () => {
      const first = await listAudit(t, reader, 'limit=1000');
      expect(first.meta).toEqual({ limit: 1000, next_cursor: null });
      expect(first.data).toHaveLength(entries.length);
      const cursorOnly = await listAudit(
        t,
        reader,
        `cursor=${(await listAudit(t, reader, 'limit=3')).meta.next_cursor}`,
      );
      expect(ids(cursorOnly.data)).toEqual(newestFirst(entries).slice(3));
      const bad = [
        'limit=1001',
        'limit=0',
        'limit=-1',
        'cursor=garbage',
        `cursor=${Buffer.from('a1:x').toString('base64url')}`,
        'cursor=',
        'limit=5&page=1',
        'limit=5&per_page=5',
        `cursor=${first.meta.next_cursor ?? Buffer.from('a1:5').toString('base64url')}&page=2`,
      ];
      for (const query of bad) {
        const res = await getAs(t, reader, `/audit-logs?${query}`);
        expect(res.statusCode, query).toBe(400);
        expect(json(res).error).toBe('bad_request');
      }
    });
  });

  it('a cursor walk sees every entry present at its start once, while new entries keep arriving', async () => {
    const { ws, reader } = await workspace('Walk');
    await seedChain(t, ws.id, 249);
    const before = (
      await t.services.db.selectFrom('audit_log').select('id').where('workspace_id', '=', ws.id).execute()
    ).map((r) => r.id);
    expect(before).toHaveLength(250);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Json = await listAudit(t, reader, `limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.meta.limit).toBe(7);
      expect(page.data.length).toBeLessThanOrEqual(7);
      seen.push(...page.data.map((e: Json) => e.id));
      cursor = page.meta.next_cursor;
      pages += 1;
      // Between pages the log grows (and the clock moves), as it would in production.
      t.clock.advance(10);
      await recordEntries(t, ws.id, 3, (i) => ({
        event: 'token.created',
        target: { type: 'token', id: `tok_new${i}`, name: null },
      }));
    } while (cursor !== null);
    expect(pages).toBe(Math.ceil(250 / 7));
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...before].sort());
    // Newest first: the walk is the stored order reversed.
    const stored = await t.services.db
      .selectFrom('audit_log')
      .select(['id', 'seq'])
      .where('workspace_id', '=', ws.id)
      .where('id', 'in', seen)
      .orderBy('seq', 'desc')
      .execute();
    expect(seen).toEqual(stored.map((r) => r.id));
  });

  it('created_at_local renders in the workspace’s current timezone with its offset', async () => {
    const { session, ws, reader } = await workspace('Local');
    const created = (await listAudit(t, reader)).data[0] as Json;
    expect(created.created_at).toBe(new Date(t.clock.now()).toISOString());
    const utcLocal = `${created.created_at.slice(0, -1)}+00:00`;
    expect(created.created_at_local).toBe(utcLocal);

    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/v1/workspaces/${ws.slug}/settings`,
      headers: session.headers,
      payload: { timezone: 'Asia/Kolkata' },
    });
    expect(patched.statusCode).toBe(200);
    const [change, first] = (await listAudit(t, reader)).data as Json[];
    // Read time, not write time: the older entry is now shown in Kolkata too.
    for (const entry of [change, first] as Json[]) {
      const utc = Date.parse(entry.created_at);
      const wall = new Date(utc + 5.5 * 3_600_000).toISOString().slice(0, -1);
      expect(entry.created_at_local).toBe(`${wall}+05:30`);
    }
    expect(first?.id).toBe(created.id);

    await t.app.inject({
      method: 'PATCH',
      url: `/v1/workspaces/${ws.slug}/settings`,
      headers: session.headers,
      payload: { timezone: 'America/St_Johns' },
    });
    const latest = (await listAudit(t, reader)).data[0] as Json;
    const wall = new Date(Date.parse(latest.created_at) - 3.5 * 3_600_000).toISOString().slice(0, -1);
    expect(latest.created_at_local).toBe(`${wall}-03:30`); // January: Newfoundland standard time
  });
});
