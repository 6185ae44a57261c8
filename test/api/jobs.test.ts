import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createJobRunner } from '../../src/background.js';
import { jobsPurge } from '../../src/jobs/purge.js';
import { backoffMs, type EnqueueOptions, enqueueJob } from '../../src/jobs/queue.js';
import { type JobContext, type JobDefinition, JobRunner } from '../../src/jobs/runner.js';
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
    // Every periodic job is due now, more than one poll may start for jobs of no workspace (the
    // per-workspace bound): poll until nothing due is left, as the runner's timer would.
    while ((await runner.runDue()) > 0);
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

describe.each(dialects())('%s: the purge of finished jobs', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  it('deletes done jobs after a week and dead ones after 30 days, and nothing else', async () => {
    const { db } = t.services;
    const kind = `test.purge.${dialect}`;
    const rows: Record<string, string> = {};
    const add = async (name: string, status: 'pending' | 'done' | 'dead', ageDays: number) => {
      const id = await enqueueJob(db, t.clock.now(), { kind });
      await db
        .updateTable('jobs')
        .set({ status, updated_at: t.clock.now() - ageDays * DAY })
        .where('id', '=', id)
        .execute();
      rows[name] = id;
    };
    await add('old done', 'done', 8);
    await add('recent done', 'done', 6);
    await add('old dead', 'dead', 31);
    await add('recent dead', 'dead', 29);
    await add('old pending', 'pending', 60);
    await jobsPurge(t.services)['jobs.purge'].run(null, {
      id: 'purge',
      attempt: 1,
      signal: new AbortController().signal,
      holdsLease: async () => true,
    });
    const left = await db.selectFrom('jobs').select('id').where('kind', '=', kind).execute();
    const names = Object.entries(rows)
      .filter(([, id]) => left.some((row) => row.id === id))
      .map(([name]) => name);
    expect(names.sort()).toEqual(['old pending', 'recent dead', 'recent done']);
  });
});

describe.each(dialects())('%s: leases, concurrency and fairness', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.close());

  let kinds = 0;
  const newKind = (name: string) => `test.${name}.${dialect}.${++kinds}`;

  /** A handler that records what started and waits until the test opens its gate. */
  function gated() {
    const entered: unknown[] = [];
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    return {
      entered,
      open: () => open(),
      run: async (payload: unknown) => {
        entered.push(payload);
        await gate;
      },
    };
  }

  const make = (
    jobs: Record<string, JobDefinition>,
    options: Partial<ConstructorParameters<typeof JobRunner>[0]> = {},
  ) =>
    new JobRunner({
      db: t.services.db,
      adapter: t.database.adapter,
      clock: t.clock.now,
      logger: silent,
      jobs,
      nodeId: 'node-a',
      ...options,
    });
  const enqueue = (kind: string, options: Partial<EnqueueOptions> = {}) =>
    enqueueJob(t.services.db, t.clock.now(), { kind, ...options });
  const jobRow = (id: string) =>
    t.services.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const statuses = async (kind: string) =>
    (await t.services.db.selectFrom('jobs').select('status').where('kind', '=', kind).execute())
      .map((r) => r.status)
      .sort();

  it('runs the jobs it claims at the same time, up to its concurrency', async () => {
    const kind = newKind('concurrent');
    for (let i = 0; i < 5; i++) await enqueue(kind, { payload: i });
    const g = gated();
    const r = make({ [kind]: { run: g.run } }, { concurrency: 3 });
    const running = r.runDue();
    await vi.waitFor(() => expect(g.entered).toHaveLength(3));
    expect(await statuses(kind)).toEqual(['pending', 'pending', 'running', 'running', 'running']);
    g.open();
    expect(await running).toBe(3);
    expect(await r.runDue()).toBe(2);
    expect(await statuses(kind)).toEqual(['done', 'done', 'done', 'done', 'done']);
  });

  it("takes at most its per-workspace share of one workspace's jobs, so another workspace is not held up", async () => {
    const kind = newKind('fair');
    for (let i = 0; i < 4; i++) await enqueue(kind, { payload: `slow-${i}`, workspaceId: 'ws_slow' });
    t.clock.advance(1000);
    await enqueue(kind, { payload: 'fast', workspaceId: 'ws_fast' });
    const g = gated();
    const fast: unknown[] = [];
    const run = async (payload: unknown) => (payload === 'fast' ? void fast.push(payload) : g.run(payload));
    const r = make({ [kind]: { run } }, { concurrency: 10, perWorkspace: 2 });
    const running = r.runDue();
    await vi.waitFor(() => expect(fast).toEqual(['fast']));
    await vi.waitFor(() => expect(g.entered).toHaveLength(2));
    g.open();
    expect(await running).toBe(3);
    expect(await r.runDue()).toBe(2);
  });

  it('runs the jobs of one lane one at a time, oldest first, on any number of runners', async () => {
    const kind = newKind('lane');
    const start = t.clock.now();
    for (const i of [2, 0, 1]) await enqueue(kind, { payload: i, lane: 'endpoint-1', runAt: start - 10 + i });
    await enqueue(kind, { payload: 'other lane', lane: 'endpoint-2' });
    const seen: unknown[] = [];
    const g = gated();
    const run = async (payload: unknown) => {
      seen.push(payload);
      if (payload === 0) await g.run(payload);
    };
    const a = make({ [kind]: { run } }, { concurrency: 10 });
    const b = make({ [kind]: { run } }, { concurrency: 10, nodeId: 'node-b' });
    const first = a.runDue();
    await vi.waitFor(() => expect(g.entered).toEqual([0]));
    expect(await b.runDue()).toBe(0); // the lane is busy on node-a; the other lane was taken with its head
    g.open();
    expect(await first).toBe(2);
    expect(await b.runDue()).toBe(1);
    expect(await a.runDue()).toBe(1);
    expect(await a.runDue()).toBe(0);
    expect(seen.filter((p) => p !== 'other lane')).toEqual([0, 1, 2]);
  });

  it('renews the lease of a running job, so no other runner takes it however long it runs', async () => {
    const kind = newKind('heartbeat');
    const id = await enqueue(kind);
    const g = gated();
    const a = make({ [kind]: { run: g.run } }, { leaseMs: 1000, heartbeatMs: 10 });
    const others: unknown[] = [];
    const b = make({ [kind]: { run: async (p) => void others.push(p) } }, { nodeId: 'node-b' });
    const running = a.runDue();
    await vi.waitFor(() => expect(g.entered).toHaveLength(1));
    for (let i = 0; i < 3; i++) {
      t.clock.advance(900);
      const renewedTo = t.clock.now() + 1000;
      await vi.waitFor(async () => expect((await jobRow(id)).locked_until).toBe(renewedTo));
      expect(await b.runDue()).toBe(0);
    }
    g.open();
    await running;
    expect(others).toEqual([]);
    expect((await jobRow(id)).status).toBe('done');
  });

  it('finishes a job only under the lease it ran with: a run that lost it changes nothing', async () => {
    const kind = newKind('token');
    const id = await enqueue(kind);
    const gates = [gated(), gated()];
    const held: boolean[] = [];
    let runs = 0;
    const run = async (payload: unknown, job: JobContext) => {
      const mine = gates[runs++] as ReturnType<typeof gated>;
      await mine.run(payload);
      held.push(await job.holdsLease());
      if (held.length === 1) throw new Error('the first run fails late');
    };
    const a = make({ [kind]: { run } }, { leaseMs: 1000, heartbeatMs: 60_000 });
    const first = a.runDue();
    await vi.waitFor(() => expect(gates[0]?.entered).toHaveLength(1));
    t.clock.advance(1001); // the lease lapses (a long pause) and the same node claims the job again
    const second = a.runDue();
    await vi.waitFor(() => expect(gates[1]?.entered).toHaveLength(1));
    gates[0]?.open();
    await first;
    let row = await jobRow(id);
    expect(row).toMatchObject({ status: 'running', locked_by: 'node-a', attempts: 2, last_error: null });
    gates[1]?.open();
    await second;
    row = await jobRow(id);
    expect(row).toMatchObject({ status: 'done', attempts: 2 });
    expect(held).toEqual([false, true]);
  });

  it('cuts a job off at its time limit: its signal is aborted and it is retried later', async () => {
    const kind = newKind('timeout');
    const id = await enqueue(kind, { maxAttempts: 3 });
    const reasons: unknown[] = [];
    const run = (_payload: unknown, job: JobContext) =>
      new Promise<void>((resolve) => {
        job.signal.addEventListener('abort', () => {
          reasons.push(job.signal.reason);
          resolve();
        });
      });
    const r = make({ [kind]: { run, timeoutMs: 50 } });
    expect(await r.runDue()).toBe(1);
    expect(reasons).toHaveLength(1);
    const row = await jobRow(id);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, locked_by: null });
    expect(row.last_error).toMatch(/time limit/);
  });

  it('claims only the kinds it can run (a node of another version leaves the rest alone)', async () => {
    const kind = newKind('unknown');
    const id = await enqueue(kind);
    const r = make({ [newKind('known')]: { run: async () => {} } });
    expect(await r.runDue()).toBe(0);
    expect(await jobRow(id)).toMatchObject({ status: 'pending', attempts: 0, locked_by: null });
  });

  it('waits for the jobs it runs when stopped', async () => {
    const kind = newKind('stop');
    const id = await enqueue(kind);
    const g = gated();
    const r = make({ [kind]: { run: g.run } }, { pollMs: 5 });
    await r.start();
    await vi.waitFor(() => expect(g.entered).toHaveLength(1));
    let stopped = false;
    const stopping = r.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    g.open();
    await stopping;
    expect((await jobRow(id)).status).toBe('done');
  });
});
