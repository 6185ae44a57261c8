import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRetentionPurge } from '../../src/audit/retention.js';
import { verifyChain } from '../../src/audit/verify-chain.js';
import { createJobRunner } from '../../src/background.js';
import { openDatabase } from '../../src/db/database.js';
import {
  auditRows,
  chainHelpers,
  DAY,
  expectIntactChain,
  getAs,
  listAudit,
  parseCsv,
  seedChain,
} from '../audit-support.js';
import { createTestApp, dialects, type TestApp } from '../helpers.js';

const silent = { error: () => {}, warn: () => {}, debug: () => {}, info: () => {} };

/** docs/audit.md#retention: old entries go, and the chain of what is kept still verifies. */
describe.each(dialects())('%s: audit retention', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { TOOKEN_RATE_LIMIT_PER_MINUTE: '100000' });
  });
  afterAll(() => t.close());

  const { workspace, verify, createToken, patchSettings, restore } = chainHelpers(() => t);

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

  it('is no break when retention cuts past entries a walk has read but not yet checked', async () => {
    const { ws, ownerKey, reader } = await workspace('Overtaken');
    const purge = createRetentionPurge(t.services);
    await seedChain(t, ws.id, 2_500);
    t.clock.advance(DAY);
    await seedChain(t, ws.id, 2_500);
    t.clock.advance(10 * DAY);
    await patchSettings(ownerKey, { audit_log_retention_days: 10 });
    // The walk reads 1,000 entries at a time. Retention cuts the first seeded day after the walk's
    // first read, and the second day after its second read: the entries of that read are gone, and
    // the chain's anchor has moved past them, by the time the walk checks them.
    let reads = 0;
    const overtaken: KyselyPlugin = {
      transformQuery: (args) => args.node,
      transformResult: async (args) => {
        if (args.result.rows[0] !== undefined && 'prev_hash' in args.result.rows[0]) {
          reads += 1;
          if (reads === 1) await purge();
          if (reads === 2) {
            t.clock.advance(DAY);
            await purge();
          }
        }
        return args.result;
      },
    };
    // Its own connection, as a request's walk would have: the purge runs while the walk holds it.
    const walker = openDatabase(t.services.config.databaseUrl);
    try {
      const report = await verifyChain(walker.db.withPlugin(overtaken), ws.id);
      expect(report.ok, JSON.stringify(report)).toBe(true);
      expect(reads).toBe(3);
    } finally {
      await walker.close();
    }
    expect(await verify(reader)).toStrictEqual({ ok: true, checked: 1 });
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
