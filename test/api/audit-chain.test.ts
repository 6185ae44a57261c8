import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHash, GENESIS_HASH } from '../../src/audit/chain.js';
import { createRetentionPurge } from '../../src/audit/retention.js';
import { chainedFields } from '../../src/audit/service.js';
import { createJobRunner } from '../../src/background.js';
import type { AuditLogTable } from '../../src/db/schema.js';
import {
  auditRows,
  DAY,
  expectIntactChain,
  getAs,
  listAudit,
  parseCsv,
  type Reader,
  recordEntries,
  seedChain,
} from '../audit-support.js';
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

const silent = { error: () => {}, warn: () => {}, debug: () => {}, info: () => {} };

/** docs/audit.md#hash-chain: retention and the tamper-evident chain. */
describe.each(dialects())('%s: audit retention and chain', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_RATE_LIMIT_PER_MINUTE: '100000' });
  });
  afterAll(() => t.close());

  /** A workspace and its Owner's personal key (an Owner credential that outlives any session). */
  async function workspace(name: string) {
    const { session, ws, key } = await ownerWorkspace(t.app, {
      name,
      key: { name: 'owner-key', kind: 'personal' },
    });
    return { session, ws, ownerKey: key.key as string, reader: { secret: key.key } as Reader };
  }

  const verify = async (reader: Reader) => {
    const res = await getAs(t, reader, '/audit-logs/verify');
    expect(res.statusCode, res.body).toBe(200);
    return json(res);
  };

  const createToken = async (secret: string, name: string) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(secret),
      payload: { name, scopes: ['tokens:read'] },
    });
    expect(res.statusCode, res.body).toBe(201);
    return json(res);
  };

  const patchSettings = async (secret: string, payload: Json) => {
    const res = await t.app.inject({
      method: 'PATCH',
      url: '/v1/settings',
      headers: bearer(secret),
      payload,
    });
    expect(res.statusCode, res.body).toBe(200);
  };

  /** Puts deleted rows back as they were. */
  const restore = async (rows: AuditLogTable[]) => {
    for (const row of rows) {
      await t.services.db
        .insertInto('audit_log')
        .values({ ...row, seq: Number(row.seq), created_at: Number(row.created_at) })
        .execute();
    }
  };

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

  describe('retention', () => {
    it('purges entries older than the retention period on the next run, keeping the chain verifiable', async () => {
      const start = t.clock.now();
      const { ws, ownerKey, reader } = await workspace('Retained');
      const keeper = await workspace('Keeps a year');
      await patchSettings(keeper.ownerKey, { audit_log_retention_days: 365 });
      const purge = createRetentionPurge(t.services);
      const ids = async () => (await auditRows(t, ws.id)).map((r) => r.id);
      const day0 = await ids(); // workspace.created, api_key.created
      expect(day0).toHaveLength(2);

      t.clock.advance(60 * DAY);
      await createToken(ownerKey, 'day-60');
      const day60 = (await ids()).slice(2);

      // Exactly 90 days old is still within 90 days of retention; a millisecond more is not.
      t.clock.set(start + 90 * DAY);
      await purge();
      expect(await ids()).toEqual([...day0, ...day60]);
      t.clock.advance(1);
      await purge();
      expect(await ids()).toEqual(day60);
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: 1 });
      expect((await listAudit(t, reader)).meta.total).toBe(1);
      const exported = parseCsv((await getAs(t, reader, '/audit-logs/export')).body);
      expect(exported.slice(1).map((r) => r[0])).toEqual(day60);
      // Another workspace's longer retention is its own.
      expect(await auditRows(t, keeper.ws.id)).toHaveLength(3);
      expect(await verify(keeper.reader)).toStrictEqual({ ok: true, checked: 3 });

      // A shorter retention takes effect on the next run, not before.
      await patchSettings(ownerKey, { audit_log_retention_days: 30 });
      const changed = (await ids()).slice(1);
      expect(await ids()).toEqual([...day60, ...changed]);
      await purge();
      expect(await ids()).toEqual(changed);
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: 1 });
      // The chain goes on from the retained entry.
      await createToken(ownerKey, 'after-purge');
      const rows = await auditRows(t, ws.id);
      expect(rows).toHaveLength(2);
      expectIntactChain(rows, false);
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: 2 });

      // Everything out of retention: the log is empty, and a new entry still chains on the head.
      t.clock.advance(31 * DAY);
      await purge();
      expect(await ids()).toEqual([]);
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: 0 });
      await createToken(ownerKey, 'fresh');
      const [fresh] = await auditRows(t, ws.id);
      expect(fresh?.prev_hash).toBe(rows[1]?.hash);
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: 1 });
    });

    it('records where it cut the chain, so entries it removed are no break and entries removed by hand are', async () => {
      const { ws, ownerKey, reader } = await workspace('Anchored');
      const purge = createRetentionPurge(t.services);
      t.clock.advance(10 * DAY);
      for (let i = 0; i < 4; i++) await createToken(ownerKey, `kept-${i}`);
      const before = await auditRows(t, ws.id);
      await patchSettings(ownerKey, { audit_log_retention_days: 5 });
      await purge();
      const kept = await auditRows(t, ws.id);
      // workspace.created and api_key.created were 10 days old.
      expect(kept.map((r) => r.event)).toEqual([
        ...Array(4).fill('token.created'),
        'workspace.settings_changed',
      ]);
      expect(kept[0]?.id).toBe(before[2]?.id);
      const head = await t.services.db
        .selectFrom('audit_heads')
        .selectAll()
        .where('workspace_id', '=', ws.id)
        .executeTakeFirstOrThrow();
      expect({ seq: Number(head.anchor_seq), hash: head.anchor_hash }).toEqual({
        seq: Number(before[1]?.seq),
        hash: before[1]?.hash,
      });
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: kept.length });

      // Deleting the oldest retained entry by hand is not retention's doing.
      const [first, second] = kept;
      if (first === undefined || second === undefined) throw new Error('too few rows');
      await t.services.db.deleteFrom('audit_log').where('id', '=', first.id).execute();
      expect(await verify(reader)).toStrictEqual({ ok: false, checked: 0, first_broken_id: second.id });
      // Nor is wiping what is left; once retention itself removes everything, the log is empty and intact.
      await t.services.db.deleteFrom('audit_log').where('workspace_id', '=', ws.id).execute();
      expect(await verify(reader)).toStrictEqual({ ok: false, checked: 0 });
      await restore(kept);
      t.clock.advance(6 * DAY);
      await purge();
      expect(await auditRows(t, ws.id)).toEqual([]);
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: 0 });
    });

    it('is no break when it runs while the chain is being verified and appended to', async () => {
      const { ws, ownerKey, reader } = await workspace('Busy Retention');
      // Several batches of the walk (1,000) and of the purge (5,000) to interleave with.
      await seedChain(t, ws.id, 7_000);
      t.clock.advance(10 * DAY);
      await patchSettings(ownerKey, { audit_log_retention_days: 5 });
      const purge = createRetentionPurge(t.services);
      const [purged, ...reports] = await Promise.all([
        purge(),
        verify(reader),
        createToken(ownerKey, 'meanwhile').then(() => verify(reader)),
        verify(reader),
      ]);
      expect(purged).toBe(7_002);
      for (const report of reports) expect(report.ok, JSON.stringify(report)).toBe(true);
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: 2 });
    });

    it('runs as the audit.retention job, one runner at a time, reading the setting on every run', async () => {
      const { ws, ownerKey, reader } = await workspace('Job Retained');
      // More than one purge batch.
      await seedChain(t, ws.id, 12_000);
      const before = (await auditRows(t, ws.id)).length;
      t.clock.advance(10 * DAY);
      await createToken(ownerKey, 'recent');
      const runners = [
        createJobRunner(t.services, silent, { nodeId: 'node-a' }),
        createJobRunner(t.services, silent, { nodeId: 'node-b' }),
      ];
      await runners[0]?.schedulePeriodic();
      await runners[1]?.schedulePeriodic();
      const jobs = await t.services.db
        .selectFrom('jobs')
        .selectAll()
        .where('kind', '=', 'audit.retention')
        .execute();
      expect(jobs).toHaveLength(1);
      await Promise.all(runners.map((r) => r.runDue()));
      expect((await auditRows(t, ws.id)).length).toBe(before + 1); // 90 days: nothing is old enough

      await patchSettings(ownerKey, { audit_log_retention_days: 5 });
      // The next run is an hour later; before it nothing changes.
      t.clock.advance(30 * 60 * 1000);
      await Promise.all(runners.map((r) => r.runDue()));
      expect((await auditRows(t, ws.id)).length).toBe(before + 2);
      t.clock.advance(31 * 60 * 1000);
      await Promise.all(runners.map((r) => r.runDue()));
      const left = await auditRows(t, ws.id);
      expect(left.map((r) => r.event)).toEqual(['token.created', 'workspace.settings_changed']);
      expect(await verify(reader)).toStrictEqual({ ok: true, checked: 2 });
      const job = await t.services.db
        .selectFrom('jobs')
        .selectAll()
        .where('kind', '=', 'audit.retention')
        .executeTakeFirstOrThrow();
      expect(job).toMatchObject({ status: 'pending', last_error: null });
    });
  });
});
