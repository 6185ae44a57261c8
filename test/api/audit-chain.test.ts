import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHash, GENESIS_HASH } from '../../src/audit/chain.js';
import { chainedFields } from '../../src/audit/service.js';
import {
  auditRows,
  chainHelpers,
  expectIntactChain,
  getAs,
  listAudit,
  type Reader,
  recordEntries,
} from '../audit-support.js';
import {
  addMember,
  bearer,
  createApiKey,
  createTestApp,
  dialects,
  type Json,
  json,
  type Session,
  signup,
  type TestApp,
  uniqueEmail,
} from '../helpers.js';

/** docs/audit.md#hash-chain: the tamper-evident chain. */
describe.each(dialects())('%s: audit chain', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_RATE_LIMIT_PER_MINUTE: '100000' });
  });
  afterAll(() => t.close());

  const { workspace, verify, createToken, patchSettings, restore } = chainHelpers(() => t);

  describe('verify', () => {
    let owner: Session;
    let ws: Json;
    let ownerKey: string;
    let reader: Reader;
    beforeAll(async () => {
      ({ session: owner, ws, ownerKey, reader } = await workspace('Chain Co'));
      for (let i = 0; i < 5; i++) {
        t.clock.advance(1000);
        await createToken(ownerKey, `chain-${i}`);
      }
      await patchSettings(ownerKey, { timezone: 'Europe/Berlin', custom_scopes: ['orders:read'] });
    });

    it('is Owner-only: Owner session and personal key 200; Admin, Admin key, Viewer, tokens 403; others 404', async () => {
      expect((await getAs(t, { session: owner, slug: ws.slug }, '/audit-logs/verify')).statusCode).toBe(200);
      expect((await getAs(t, reader, '/audit-logs/verify')).statusCode).toBe(200);
      const admin = await signup(t.app, uniqueEmail('admin'));
      await addMember(t.services, ws.id, admin.user.id, 'admin');
      const viewer = await signup(t.app, uniqueEmail('viewer'));
      await addMember(t.services, ws.id, viewer.user.id, 'viewer');
      const adminKey = await createApiKey(t.app, owner, ws.slug, {
        name: 'admin-team',
        kind: 'team',
        role: 'admin',
      });
      const token = await t.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(ownerKey),
        payload: { name: 'auditor', scopes: ['audit:read', 'tokens:read'] },
      });
      const forbidden: Reader[] = [
        { session: admin, slug: ws.slug },
        { session: viewer, slug: ws.slug },
        { secret: adminKey.key },
        { secret: json(token).token },
      ];
      for (const r of forbidden) expect((await getAs(t, r, '/audit-logs/verify')).statusCode).toBe(403);
      // The token with audit:read may still read the log; only verification is the Owner's.
      expect((await getAs(t, { secret: json(token).token }, '/audit-logs')).statusCode).toBe(200);
      const stranger = await workspace('Not Yours');
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/workspaces/${stranger.ws.slug}/audit-logs/verify`,
        headers: owner.headers,
      });
      expect(res.statusCode).toBe(404);
    });

    it('walks the whole chain: ok, with checked equal to the number of entries', async () => {
      const rows = await auditRows(t, ws.id);
      expect(rows.length).toBeGreaterThanOrEqual(9);
      expectIntactChain(rows);
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: rows.length });
      // The API shows the same links.
      const { data } = await listAudit(t, reader, 'limit=1000');
      expect(data.map((e: Json) => [e.hash, e.prev_hash])).toEqual(
        [...rows].reverse().map((r) => [r.hash, r.prev_hash]),
      );
    });

    it('names the first entry altered directly in the database, in any column', async () => {
      const rows = await auditRows(t, ws.id);
      const middle = rows[4];
      if (middle === undefined) throw new Error('too few rows');
      const alterations: Json[] = [
        { actor_name: 'mallory' },
        { actor_id: 'usr_mallorymallorymallorymal' },
        { event: 'token.revoked' },
        { created_at: Number(middle.created_at) + 1 },
        { target_name: 'other' },
        { changes: '{"name":{"from":"a","to":"b"}}' },
        { ip: '10.0.0.1' },
        { user_agent: 'forged' },
        { request_id: 'req_forged' },
        { hash: 'f'.repeat(64) },
        { prev_hash: '0'.repeat(64) },
      ];
      for (const change of alterations) {
        await t.services.db.updateTable('audit_log').set(change).where('id', '=', middle.id).execute();
        expect(await verify(reader), JSON.stringify(change)).toStrictEqual({
          ok: false,
          checked: 4,
          first_broken_id: middle.id,
        });
        await t.services.db
          .updateTable('audit_log')
          .set({ ...middle, seq: Number(middle.seq), created_at: Number(middle.created_at) })
          .where('id', '=', middle.id)
          .execute();
        expect((await verify(reader)).ok).toBe(true);
      }
    });

    it('detects an altered entry whose hash was recomputed, at the next entry', async () => {
      const rows = await auditRows(t, ws.id);
      const [victim, next] = [rows[2], rows[3]];
      if (victim === undefined || next === undefined) throw new Error('too few rows');
      const { chainHash } = await import('../../src/audit/chain.js');
      const { chainedFields } = await import('../../src/audit/service.js');
      const forged = { ...victim, actor_name: 'mallory' };
      const forgedHash = chainHash(victim.prev_hash, chainedFields(forged));
      await t.services.db
        .updateTable('audit_log')
        .set({ actor_name: 'mallory', hash: forgedHash })
        .where('id', '=', victim.id)
        .execute();
      expect(await verify(reader)).toStrictEqual({ ok: false, checked: 3, first_broken_id: next.id });
      await t.services.db
        .updateTable('audit_log')
        .set({ actor_name: victim.actor_name, hash: victim.hash })
        .where('id', '=', victim.id)
        .execute();
      expect((await verify(reader)).ok).toBe(true);
    });

    it('detects a deleted middle entry at the entry after it', async () => {
      const rows = await auditRows(t, ws.id);
      const [gone, after] = [rows[5], rows[6]];
      if (gone === undefined || after === undefined) throw new Error('too few rows');
      await t.services.db.deleteFrom('audit_log').where('id', '=', gone.id).execute();
      expect(await verify(reader)).toStrictEqual({ ok: false, checked: 5, first_broken_id: after.id });
      await t.services.db
        .insertInto('audit_log')
        .values({ ...gone, seq: Number(gone.seq), created_at: Number(gone.created_at) })
        .execute();
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: rows.length });
    });

    it('detects the newest entries cut off, or the newest one altered with its hash recomputed', async () => {
      const rows = await auditRows(t, ws.id);
      const [last, beforeLast] = [rows.at(-1), rows.at(-2)];
      if (last === undefined || beforeLast === undefined) throw new Error('too few rows');
      await t.services.db.deleteFrom('audit_log').where('id', '=', last.id).execute();
      expect(await verify(reader)).toStrictEqual({
        ok: false,
        checked: rows.length - 2,
        first_broken_id: beforeLast.id,
      });
      await t.services.db
        .insertInto('audit_log')
        .values({ ...last, seq: Number(last.seq), created_at: Number(last.created_at) })
        .execute();
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: rows.length });

      const { chainHash } = await import('../../src/audit/chain.js');
      const { chainedFields } = await import('../../src/audit/service.js');
      const forged = { ...last, ip: '203.0.113.9' };
      await t.services.db
        .updateTable('audit_log')
        .set({ ip: forged.ip, hash: chainHash(last.prev_hash, chainedFields(forged)) })
        .where('id', '=', last.id)
        .execute();
      expect(await verify(reader)).toStrictEqual({
        ok: false,
        checked: rows.length - 1,
        first_broken_id: last.id,
      });
      await t.services.db
        .updateTable('audit_log')
        .set({ ip: last.ip, hash: last.hash })
        .where('id', '=', last.id)
        .execute();
      expect((await verify(reader)).ok).toBe(true);
    });

    it('does not verify a wiped chain: the head names entries that are gone', async () => {
      const rows = await auditRows(t, ws.id);
      await t.services.db.deleteFrom('audit_log').where('workspace_id', '=', ws.id).execute();
      // No entry is left to name.
      expect(await verify(reader)).toStrictEqual({ ok: false, checked: 0 });
      await restore(rows);
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: rows.length });
    });

    it('names the first entry left when the oldest entries were deleted other than by retention', async () => {
      const rows = await auditRows(t, ws.id);
      expect(rows.length).toBeGreaterThanOrEqual(9);
      const oldest = rows.slice(0, 3);
      await t.services.db
        .deleteFrom('audit_log')
        .where(
          'id',
          'in',
          oldest.map((r) => r.id),
        )
        .execute();
      expect(await verify(reader)).toStrictEqual({ ok: false, checked: 0, first_broken_id: rows[3]?.id });
      // Even if the gap is made to look like a chain's start.
      await t.services.db
        .deleteFrom('audit_log')
        .where('id', '=', rows[3]?.id ?? '')
        .execute();
      expect(await verify(reader)).toStrictEqual({ ok: false, checked: 0, first_broken_id: rows[4]?.id });
      await restore([...oldest, ...rows.slice(3, 4)]);
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: rows.length });
    });

    it('does not verify against a head that no entry matches', async () => {
      const rows = await auditRows(t, ws.id);
      const [last, beforeLast] = [rows.at(-1), rows.at(-2)];
      if (last === undefined || beforeLast === undefined) throw new Error('too few rows');
      const head = await t.services.db
        .selectFrom('audit_heads')
        .selectAll()
        .where('workspace_id', '=', ws.id)
        .executeTakeFirstOrThrow();
      const setHead = (values: { seq: number; hash: string }) =>
        t.services.db.updateTable('audit_heads').set(values).where('workspace_id', '=', ws.id).execute();
      const cases: [{ seq: number; hash: string }, Json][] = [
        // One past the newest entry: an entry is missing at the end.
        [
          { seq: Number(last.seq) + 1, hash: last.hash },
          { ok: false, checked: rows.length - 1, first_broken_id: last.id },
        ],
        // Moved back to the entry before: the newest entry is past the head, as if forged.
        [
          { seq: Number(beforeLast.seq), hash: beforeLast.hash },
          { ok: false, checked: rows.length - 1, first_broken_id: last.id },
        ],
        // Another hash at the right position.
        [
          { seq: Number(last.seq), hash: 'e'.repeat(64) },
          { ok: false, checked: rows.length - 1, first_broken_id: last.id },
        ],
      ];
      for (const [values, report] of cases) {
        await setHead(values);
        expect(await verify(reader), JSON.stringify(values)).toStrictEqual(report);
      }
      await setHead({ seq: Number(head.seq), hash: head.hash });
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: rows.length });

      // No head at all: nothing vouches for any entry.
      await t.services.db.deleteFrom('audit_heads').where('workspace_id', '=', ws.id).execute();
      expect(await verify(reader)).toStrictEqual({ ok: false, checked: 0, first_broken_id: rows[0]?.id });
      await t.services.db.insertInto('audit_heads').values(head).execute();
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: rows.length });
    });

    it("tampering with one workspace's chain leaves another's intact", async () => {
      const other = await workspace('Other Chain');
      await createToken(other.ownerKey, 'x');
      const rows = await auditRows(t, ws.id);
      await t.services.db
        .updateTable('audit_log')
        .set({ actor_name: 'mallory' })
        .where('id', '=', rows[1]?.id ?? '')
        .execute();
      expect((await verify(reader)).ok).toBe(false);
      expect(await verify(other.reader)).toStrictEqual({ ok: true, checked: 3 });
      await t.services.db
        .updateTable('audit_log')
        .set({ actor_name: rows[1]?.actor_name ?? null })
        .where('id', '=', rows[1]?.id ?? '')
        .execute();
      expect((await verify(reader)).ok).toBe(true);
    });
  });

  describe('text as the database stores it', () => {
    it("refuses a Viewer's personal key named with a lone surrogate (400), so the chain still verifies", async () => {
      const { ws, reader } = await workspace('Surrogate Co');
      const viewer = await signup(t.app, uniqueEmail('viewer'));
      await addMember(t.services, ws.id, viewer.user.id, 'viewer');
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/workspaces/${ws.slug}/api-keys`,
        headers: { ...viewer.headers, 'content-type': 'application/json' },
        payload: '{"name":"x\\ud800","kind":"personal"}',
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(json(res).details).toEqual([{ field: 'name', message: expect.any(String) }]);
      const rows = await auditRows(t, ws.id);
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: rows.length });
    });

    it('verifies entries whose text round-trips through the database, lone surrogates included', async () => {
      const { ws, reader } = await workspace('Round Trip');
      // Whatever reaches the recorder: astral characters, decomposed accents, line separators,
      // Latin-1 header bytes and (from no HTTP request, but from code) lone surrogates.
      const texts = ['x\ud800', '\udc00y', 'a\ud83d', '🚀 e\u0301 \u2028 ß \uffff', 'ÿ\u0085'];
      await recordEntries(t, ws.id, texts.length, (i) => ({
        actor: { type: 'system', id: null, name: texts[i] ?? '' },
        target: { type: 'token', id: `tok_${i}`, name: texts[i] ?? '' },
        changes: { name: { from: texts[i], to: 'plain' } },
        meta: { ip: null, userAgent: texts[i] ?? null, requestId: null },
      }));
      const rows = await auditRows(t, ws.id);
      expectIntactChain(rows);
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: rows.length });
      // A lone surrogate is stored, shown and hashed as U+FFFD, the same everywhere.
      const { data } = await listAudit(t, reader, 'limit=1000');
      const named = (name: string) => data.find((e: Json) => e.target?.name === name);
      expect(named('x\ufffd')).toMatchObject({
        actor: { name: 'x\ufffd' },
        changes: { name: { from: 'x\ufffd', to: 'plain' } },
        user_agent: 'x\ufffd',
      });
      expect(named('\ufffdy')).toBeDefined();
      expect(named('a\ufffd')).toBeDefined();
      for (const entry of data) expect(chainHash(entry.prev_hash, entry)).toBe(entry.hash);
    });
  });

  describe('recording under concurrency', () => {
    it('chains every entry of a workspace to the one before, without forks under concurrency', async () => {
      const { ws, ownerKey } = await workspace('Chain');
      // 20 concurrent changes, each writing its own entry.
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          t.app.inject({
            method: 'PATCH',
            url: '/v1/settings',
            headers: bearer(ownerKey),
            payload: { name: `Chain ${i}` },
          }),
        ),
      );
      for (const res of results) expect(res.statusCode, res.body).toBe(200);
      const rows = await auditRows(t, ws.id);
      // workspace.created and api_key.created, then one workspace.settings_changed per change.
      expect(rows.length).toBe(2 + 20);
      let prev = GENESIS_HASH;
      rows.forEach((row, i) => {
        expect(row.seq).toBe(i + 1);
        expect(row.prev_hash).toBe(prev);
        expect(row.hash).toBe(chainHash(prev, chainedFields(row)));
        prev = row.hash;
      });
      const head = await t.services.db
        .selectFrom('audit_heads')
        .selectAll()
        .where('workspace_id', '=', ws.id)
        .executeTakeFirstOrThrow();
      expect(head).toMatchObject({ seq: rows.length, hash: prev });
    });
  });

  it('concurrent changes from several credentials extend one chain without forks', async () => {
    const { session, ws, ownerKey, reader } = await workspace('Busy');
    const teamKey = (await createApiKey(t.app, session, ws.slug, { name: 'team', kind: 'team' })).key;
    const creations = Array.from({ length: 30 }, (_, i) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(i % 2 === 0 ? ownerKey : teamKey),
        payload: { name: `busy-${i}`, scopes: ['tokens:read'] },
      }),
    );
    const patches = Array.from({ length: 10 }, (_, i) =>
      t.app.inject({
        method: 'PATCH',
        url: '/v1/settings',
        headers: bearer(ownerKey),
        payload: { name: `Busy ${i}` },
      }),
    );
    const results = await Promise.all([...creations, ...patches]);
    for (const res of results) expect(res.statusCode).toBeLessThan(300);
    const rows = await auditRows(t, ws.id);
    expect(rows.length).toBe(3 + 30 + 10);
    expectIntactChain(rows);
    expect(await verify(reader)).toStrictEqual({ ok: true, checked: rows.length });
    const head = await t.services.db
      .selectFrom('audit_heads')
      .selectAll()
      .where('workspace_id', '=', ws.id)
      .executeTakeFirstOrThrow();
    expect({ seq: Number(head.seq), hash: head.hash }).toEqual({ seq: rows.length, hash: rows.at(-1)?.hash });
  });
});
