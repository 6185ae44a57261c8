import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobRunner } from '../../src/background.js';
import { backoffMs, enqueueJob, JobRunner } from '../../src/jobs/runner.js';
import { createExpirySweep } from '../../src/tokens/expiry.js';
import {
  auditRows as auditRowsIn,
  bearer,
  createTestApp,
  dialects,
  json,
  outboxRows as outboxRowsIn,
  ownerWorkspace,
  type TestApp,
} from '../helpers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const silent = { error: () => {}, warn: () => {}, debug: () => {}, info: () => {} };

describe('backoff', () => {
  it('doubles from a second, caps at an hour and jitters by at most a fifth', () => {
    expect(backoffMs(1, () => 0.5)).toBe(1000);
    expect(backoffMs(4, () => 0.5)).toBe(8000);
    expect(backoffMs(30, () => 0.5)).toBe(HOUR);
    expect(backoffMs(3, () => 0)).toBe(3200);
    expect(backoffMs(3, () => 1)).toBe(4800);
  });
});

describe("a node's job runner", () => {
  it('claims jobs for TOOKEN_JOB_LEASE_MS, 60 s by default', async () => {
    const t = await createTestApp('sqlite', { TOOKEN_JOB_LEASE_MS: '5000' });
    const byDefault = await createTestApp('sqlite');
    try {
      expect(createJobRunner(t.services, silent).leaseMs).toBe(5000);
      expect(createJobRunner(byDefault.services, silent).leaseMs).toBe(60_000);
    } finally {
      await t.close();
      await byDefault.close();
    }
  });
});

describe.each(dialects())('%s: the job runner', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  const runner = (handlers: Record<string, (payload: unknown) => Promise<void>>, nodeId = 'node-a') =>
    new JobRunner({
      db: t.services.db,
      adapter: t.database.adapter,
      clock: t.clock.now,
      logger: silent,
      jobs: Object.fromEntries(Object.entries(handlers).map(([kind, run]) => [kind, { run }])),
      nodeId,
      leaseMs: 30_000,
    });

  const jobRow = (id: string) =>
    t.services.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  it('runs a due job once and marks it done', async () => {
    const seen: unknown[] = [];
    const kind = `test.once.${dialect}`;
    const id = await enqueueJob(t.services.db, t.clock.now(), { kind, payload: { n: 1 } });
    const r = runner({ [kind]: async (payload) => void seen.push(payload) });
    await r.runDue();
    await r.runDue();
    expect(seen).toEqual([{ n: 1 }]);
    expect((await jobRow(id)).status).toBe('done');
  });

  it('does not run a job before its time', async () => {
    const kind = `test.later.${dialect}`;
    let runs = 0;
    const id = await enqueueJob(t.services.db, t.clock.now(), { kind, runAt: t.clock.now() + 60_000 });
    const r = runner({ [kind]: async () => void runs++ });
    await r.runDue();
    expect(runs).toBe(0);
    t.clock.advance(60_000);
    await r.runDue();
    expect(runs).toBe(1);
    expect((await jobRow(id)).status).toBe('done');
  });

  it('retries a failing job with backoff and buries it after its last attempt', async () => {
    const kind = `test.failing.${dialect}`;
    const id = await enqueueJob(t.services.db, t.clock.now(), { kind, maxAttempts: 3 });
    const r = runner({
      [kind]: async () => {
        throw new Error('receiver said no');
      },
    });
    await r.runDue();
    let row = await jobRow(id);
    expect(row.status).toBe('pending');
    expect(row.attempts).toBe(1);
    expect(row.last_error).toBe('receiver said no');
    expect(row.run_at).toBeGreaterThanOrEqual(t.clock.now() + 800);
    t.clock.advance(HOUR);
    await r.runDue();
    t.clock.advance(HOUR);
    await r.runDue();
    row = await jobRow(id);
    expect(row.attempts).toBe(3);
    expect(row.status).toBe('dead');
    t.clock.advance(HOUR);
    expect(await r.runDue()).toBe(0);
  });

  it('lets another runner take over a job whose lease lapsed', async () => {
    const kind = `test.lease.${dialect}`;
    const id = await enqueueJob(t.services.db, t.clock.now(), { kind });
    // Runner A claims the job and "dies" before finishing: simulate by claiming through a handler that never settles.
    const a = runner({ [kind]: () => new Promise<void>(() => {}) }, 'node-a');
    void a.runDue();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await jobRow(id)).locked_by).toBe('node-a');
    const ran: string[] = [];
    const b = runner({ [kind]: async () => void ran.push('b') }, 'node-b');
    await b.runDue();
    expect(ran).toEqual([]);
    t.clock.advance(30_001);
    await b.runDue();
    expect(ran).toEqual(['b']);
    expect((await jobRow(id)).status).toBe('done');
  });

  it('keeps polling when the database refuses a claim, without an unhandled rejection', async () => {
    const errors: unknown[] = [];
    const broken = new JobRunner({
      db: t.services.db,
      adapter: t.database.adapter,
      clock: t.clock.now,
      logger: { ...silent, error: (obj: unknown) => void errors.push(obj) },
      jobs: {},
      pollMs: 5,
    });
    // A claim that fails (a locked or unreachable database) must be logged, not crash the process.
    const claim = broken as unknown as { claim: () => Promise<unknown> };
    claim.claim = async () => {
      throw new Error('database is locked');
    };
    await broken.start();
    await new Promise((resolve) => setTimeout(resolve, 60));
    await broken.stop();
    expect(errors.length).toBeGreaterThan(0);
  });

  it('reschedules a periodic job after each run instead of finishing it', async () => {
    const kind = `test.periodic.${dialect}`;
    let runs = 0;
    const r = new JobRunner({
      db: t.services.db,
      adapter: t.database.adapter,
      clock: t.clock.now,
      logger: silent,
      jobs: { [kind]: { run: async () => void runs++, everyMs: 10_000 } },
    });
    await r.schedulePeriodic();
    await r.schedulePeriodic(); // a second node starting: still one row
    const rows = await t.services.db.selectFrom('jobs').selectAll().where('kind', '=', kind).execute();
    expect(rows).toHaveLength(1);
    await r.runDue();
    await r.runDue();
    expect(runs).toBe(1);
    t.clock.advance(10_000);
    await r.runDue();
    expect(runs).toBe(2);
    const row = await t.services.db
      .selectFrom('jobs')
      .selectAll()
      .where('kind', '=', kind)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('pending');
    expect(row.run_at).toBe(t.clock.now() + 10_000);
  });
});

describe.each(dialects())('%s: token expiry events', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  async function setup() {
    const { ws, key } = await ownerWorkspace(t.app, { key: 'team' });
    const create = async (name: string, msFromNow: number | null) => {
      const expires_at = msFromNow === null ? null : new Date(t.clock.now() + msFromNow).toISOString();
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(key.key),
        payload: { name, scopes: ['tokens:read'], expires_at },
      });
      expect(res.statusCode).toBe(201);
      return json(res);
    };
    return { ws, key, create };
  }

  const events = (workspaceId: string, event: string) => outboxRowsIn(t.services, workspaceId, event);
  const auditRows = (workspaceId: string, event: string) => auditRowsIn(t.services, workspaceId, event);

  it('writes one token.expired audit entry and event per token, by the system, once', async () => {
    const { ws, create } = await setup();
    const token = await create('soon', HOUR);
    await create('later', 10 * DAY);
    const sweep = createExpirySweep(t.services);
    await sweep();
    expect(await auditRows(ws.id, 'token.expired')).toHaveLength(0);
    t.clock.advance(HOUR + 1);
    await sweep();
    await sweep();
    const rows = await auditRows(ws.id, 'token.expired');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor_type: 'system', target_id: token.id, target_name: 'soon' });
    const evts = await events(ws.id, 'token.expired');
    expect(evts).toHaveLength(1);
    expect(JSON.parse(evts[0]?.payload ?? '{}')).toMatchObject({
      id: token.id,
      status: 'expired',
      expired_at: token.expires_at,
    });
  });

  it('runs the sweep as a periodic job of the runner', async () => {
    const { ws, create } = await setup();
    await create('job-run', HOUR);
    const runner = createJobRunner(t.services, silent, { nodeId: 'runner-1' });
    await runner.schedulePeriodic();
    t.clock.advance(HOUR + 20_000);
    await runner.runDue();
    expect(await auditRows(ws.id, 'token.expired')).toHaveLength(1);
  });

  it('skips revoked tokens', async () => {
    const { ws, key, create } = await setup();
    const token = await create('revoked-first', HOUR);
    const res = await t.app.inject({
      method: 'DELETE',
      url: `/v1/tokens/${token.id}`,
      headers: bearer(key.key),
    });
    expect(res.statusCode).toBe(204);
    t.clock.advance(2 * HOUR);
    await createExpirySweep(t.services)();
    expect(await auditRows(ws.id, 'token.expired')).toHaveLength(0);
  });

  it('announces expiry 7 days and 1 day ahead, each once', async () => {
    const { ws, create } = await setup();
    const token = await create('ten-days', 10 * DAY);
    const sweep = createExpirySweep(t.services);
    await sweep();
    expect(await events(ws.id, 'token.expiring')).toHaveLength(0);
    t.clock.advance(3 * DAY + 1);
    await sweep();
    await sweep();
    let evts = await events(ws.id, 'token.expiring');
    expect(evts.map((e) => JSON.parse(e.payload).expires_in_days)).toEqual([7]);
    t.clock.advance(6 * DAY);
    await sweep();
    evts = await events(ws.id, 'token.expiring');
    expect(evts.map((e) => JSON.parse(e.payload).expires_in_days).sort()).toEqual([1, 7]);
    expect(JSON.parse(evts[0]?.payload ?? '{}').id).toBe(token.id);
  });

  it('gives a token with less than 7 days only the 1-day notice, and one with less than a day none', async () => {
    const { ws, create } = await setup();
    const fiveDays = await create('five-days', 5 * DAY);
    const halfDay = await create('half-day', 12 * HOUR);
    const sweep = createExpirySweep(t.services);
    await sweep();
    t.clock.advance(4 * DAY + HOUR);
    await sweep();
    const evts = await events(ws.id, 'token.expiring');
    expect(evts.map((e) => [JSON.parse(e.payload).id, JSON.parse(e.payload).expires_in_days])).toEqual([
      [fiveDays.id, 1],
    ]);
    expect(evts.some((e) => JSON.parse(e.payload).id === halfDay.id)).toBe(false);
  });

  it('still announces expiring tokens when over a batch of tokens expired unannounced (after downtime)', async () => {
    const { ws, create } = await setup();
    const template = await create('missed-0', 8 * DAY);
    const row = await t.services.db
      .selectFrom('tokens')
      .selectAll()
      .where('id', '=', template.id)
      .executeTakeFirstOrThrow();
    const clones = Array.from({ length: 600 }, (_, i) => ({
      ...row,
      id: `tok_missed${String(i).padStart(14, '0')}`,
      name: `missed-${i + 1}`,
      name_lower: `missed-${i + 1}`,
    }));
    for (let i = 0; i < clones.length; i += 100) {
      await t.services.db
        .insertInto('tokens')
        .values(clones.slice(i, i + 100))
        .execute();
    }
    // The server was down while all of them passed both notice windows and expired.
    t.clock.advance(9 * DAY);
    const soon = await create('three-days', 3 * DAY);
    t.clock.advance(2 * DAY + HOUR);
    await createExpirySweep(t.services)();
    const evts = await events(ws.id, 'token.expiring');
    expect(evts.map((e) => [JSON.parse(e.payload).id, JSON.parse(e.payload).expires_in_days])).toContainEqual(
      [soon.id, 1],
    );
  });

  it('writes each expiry exactly once when two runners sweep at the same time', async () => {
    const { ws, create } = await setup();
    const tokens = [];
    for (let i = 0; i < 8; i++) tokens.push(await create(`race-${i}`, HOUR));
    t.clock.advance(HOUR + 1);
    // Two independent sweeps over the same due tokens, concurrently, as two nodes would.
    await Promise.all([createExpirySweep(t.services)(), createExpirySweep(t.services)()]);
    const rows = await auditRows(ws.id, 'token.expired');
    expect(rows).toHaveLength(tokens.length);
    expect(new Set(rows.map((r) => r.target_id)).size).toBe(tokens.length);
    expect(await events(ws.id, 'token.expired')).toHaveLength(tokens.length);
  });

  it('lets only one of two racing runners claim the periodic sweep', async () => {
    const { ws, create } = await setup();
    await create('claimed-once', HOUR);
    const one = createJobRunner(t.services, silent, { nodeId: 'race-1' });
    const two = createJobRunner(t.services, silent, { nodeId: 'race-2' });
    await Promise.all([one.schedulePeriodic(), two.schedulePeriodic()]);
    t.clock.advance(2 * HOUR);
    const ran = await Promise.all([one.runDue(), two.runDue()]);
    const sweeps = await t.services.db
      .selectFrom('jobs')
      .selectAll()
      .where('kind', '=', 'tokens.expiry-sweep')
      .execute();
    expect(sweeps).toHaveLength(1);
    expect(ran.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(await auditRows(ws.id, 'token.expired')).toHaveLength(1);
  });
});
