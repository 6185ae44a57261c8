import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createJobRunner } from '../../src/background.js';
import { JobRunner } from '../../src/jobs/runner.js';
import { webhookJobs } from '../../src/webhooks/jobs.js';
import { sendOnce } from '../../src/webhooks/send.js';
import type { Resolve } from '../../src/webhooks/url-guard.js';
import {
  bearer,
  createTestApp,
  dialects,
  type Json,
  json,
  ownerWorkspace,
  realTimeClock,
  type TestApp,
} from '../helpers.js';
import { header, type Receiver, startReceiver } from '../webhook-receiver.js';

const silent = { error: () => {}, warn: () => {}, debug: () => {}, info: () => {} };
const PRIVATE_OK = { TOOKEN_WEBHOOK_ALLOW_PRIVATE: 'true' };

/** Runs the job runner until nothing is due. */
async function drain(runner: JobRunner): Promise<number> {
  let total = 0;
  for (let i = 0; i < 200; i++) {
    const ran = await runner.runDue();
    if (ran === 0) return total;
    total += ran;
  }
  throw new Error('the job queue did not drain');
}

/** A workspace with a team key, and helpers to add endpoints and issue tokens through the API. */
async function tenant(t: TestApp) {
  const { ws, key } = await ownerWorkspace(t.app, { key: 'team' });
  const api = (method: 'GET' | 'POST', p: string, payload?: Json) =>
    t.app.inject({ method, url: `/v1${p}`, headers: bearer(key.key), ...(payload ? { payload } : {}) });
  const addHook = async (url: string, events = ['token.created']) => {
    const res = await api('POST', '/webhooks', { url, events });
    expect(res.statusCode, res.body).toBe(201);
    return json(res);
  };
  const createToken = async (name: string) => {
    const res = await api('POST', '/tokens', { name, scopes: ['tokens:read'] });
    expect(res.statusCode, res.body).toBe(201);
    return json(res);
  };
  return { ws, key, api, addHook, createToken };
}

/** Every delivery of a workspace, from the table. */
const deliveriesOf = (t: TestApp, workspaceId: string) =>
  t.services.db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .execute();

describe.each(dialects())('%s: a tenant whose receiver hangs', (dialect) => {
  let t: TestApp;
  let rx: Receiver;
  beforeAll(async () => {
    rx = await startReceiver();
    t = await createTestApp(dialect, PRIVATE_OK);
  });
  afterAll(async () => {
    await t.close();
    await rx.close();
  });

  it("does not delay another tenant's deliveries, and its own still arrive once each, in order", async () => {
    let release = () => {};
    const hang = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = await tenant(t);
    const slowPaths = ['/hang-1', '/hang-2', '/hang-3'];
    for (const p of slowPaths) {
      rx.respond(p, () => ({ status: 200, until: hang }));
      await slow.addHook(rx.url(p));
    }
    const names = ['first', 'second', 'third', 'fourth'];
    for (const name of names) {
      await slow.createToken(name);
      t.clock.advance(1);
    }
    const fast = await tenant(t);
    await fast.addHook(rx.url('/fast'));
    await fast.createToken('prompt');

    const runner = createJobRunner(t.services, silent, { nodeId: `fair-${dialect}`, pollMs: 10 });
    try {
      await runner.start();
      // The fast tenant's delivery is made and recorded while every slow endpoint still hangs.
      await vi.waitFor(
        async () => {
          const [delivery] = await deliveriesOf(t, fast.ws.id);
          expect(delivery?.status).toBe('succeeded');
        },
        { timeout: 20_000, interval: 20 },
      );
      expect(rx.at('/fast')).toHaveLength(1);
      // At most one request at a time per endpoint, and none of them answered yet.
      for (const p of slowPaths) expect(rx.at(p).length).toBeLessThanOrEqual(1);
      expect((await deliveriesOf(t, slow.ws.id)).filter((d) => d.status !== 'pending')).toEqual([]);
    } finally {
      release();
    }
    await vi.waitFor(
      async () => {
        const settled = (await deliveriesOf(t, slow.ws.id)).filter((d) => d.status === 'succeeded');
        expect(settled).toHaveLength(12);
      },
      { timeout: 20_000, interval: 20 },
    );
    await runner.stop();
    for (const p of slowPaths) {
      const got = rx.at(p).map((r) => JSON.parse(r.body).data.name);
      expect(got).toEqual(names);
    }
  });
});

describe.each(dialects())('%s: a delivery whose job lost its lease', (dialect) => {
  let t: TestApp;
  let rx: Receiver;
  let release = () => {};
  let armed = false;
  let stalled = false;
  // Once armed, the next name lookup stalls until the test lets it go (a node paused mid-job).
  const resolve: Resolve = async () => {
    if (armed) {
      armed = false;
      stalled = true;
      await new Promise<void>((r) => {
        release = r;
      });
    }
    return [{ address: '127.0.0.1', family: 4 }];
  };
  beforeAll(async () => {
    rx = await startReceiver();
    t = await createTestApp(dialect, PRIVATE_OK, { resolve });
  });
  afterAll(async () => {
    await t.close();
    await rx.close();
  });

  it('does not POST once another node has taken the attempt over', async () => {
    const { api, addHook } = await tenant(t);
    const hook = await addHook(`http://receiver.test:${rx.port}/taken-over`);
    const ping = await api('POST', `/webhooks/${hook.id}/test`);
    expect(ping.statusCode).toBe(202);
    const paused = createJobRunner(t.services, silent, {
      nodeId: 'paused',
      leaseMs: 1000,
      heartbeatMs: 3_600_000,
    });
    const other = createJobRunner(t.services, silent, { nodeId: 'other' });
    armed = true;
    const pausedRun = paused.runDue();
    await vi.waitFor(() => expect(stalled).toBe(true));
    t.clock.advance(1001); // the paused node's lease lapses
    expect(await drain(other)).toBe(1);
    expect(rx.at('/taken-over')).toHaveLength(1);
    release();
    await pausedRun;
    expect(rx.at('/taken-over')).toHaveLength(1);
    const [delivery] = json(await api('GET', `/webhooks/${hook.id}/deliveries`)).data as Json[];
    expect(delivery).toMatchObject({ id: json(ping).id, status: 'succeeded' });
    expect(delivery?.attempts).toHaveLength(1);
  });
});

describe.each(dialects())('%s: delivery time limits', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    // Names resolve when an endpoint is saved; the deliverer below gets a DNS that never answers.
    const resolve: Resolve = async () => [{ address: '127.0.0.1', family: 4 }];
    t = await createTestApp(dialect, PRIVATE_OK, { resolve });
  });
  afterAll(() => t.close());

  it('counts name resolution in the time limit of an attempt', async () => {
    const { api, addHook } = await tenant(t);
    const hook = await addHook('http://never-resolves.test/hook');
    expect((await api('POST', `/webhooks/${hook.id}/test`)).statusCode).toBe(202);
    const { db, clock, audit, serverKey } = t.services;
    const jobs = webhookJobs({
      db,
      clock,
      audit,
      serverKey,
      allowPrivate: true,
      resolve: () => new Promise(() => {}),
      timeoutMs: 100,
    });
    const runner = new JobRunner({ db, adapter: t.database.adapter, clock, logger: silent, jobs });
    expect(await runner.runDue()).toBe(1);
    const [delivery] = json(await api('GET', `/webhooks/${hook.id}/deliveries`)).data as Json[];
    expect(delivery?.status).toBe('pending');
    expect(delivery?.attempts).toEqual([
      expect.objectContaining({ status_code: null, error: expect.stringMatching(/timed out/) }),
    ]);
  });
});

describe('sending one attempt', () => {
  let rx: Receiver;
  beforeAll(async () => {
    rx = await startReceiver();
  });
  afterAll(() => rx.close());

  it('stops waiting for the answer when its job is cancelled', async () => {
    let release = () => {};
    rx.respond('/held', () => ({
      status: 200,
      until: new Promise<void>((resolve) => {
        release = resolve;
      }),
    }));
    const controller = new AbortController();
    const target = { url: new URL(rx.url('/held')), address: '127.0.0.1', family: 4 as const };
    const sending = sendOnce(target, {}, '{}', { signal: controller.signal });
    await vi.waitFor(() => expect(rx.at('/held')).toHaveLength(1));
    controller.abort();
    expect(await sending).toMatchObject({ statusCode: null, error: 'cancelled', excerpt: null });
    release();
  });
});

describe.each(dialects())('%s: the cost of an event inside its transaction', (dialect) => {
  let t: TestApp;
  const statements: string[] = [];
  beforeAll(async () => {
    t = await createTestApp(dialect, PRIVATE_OK, { onQuery: (sql) => statements.push(sql) });
  });
  afterAll(() => t.close());

  it('is the same number of statements for a token created with 1 or 20 endpoints listening', async () => {
    const counts: number[] = [];
    for (const endpoints of [1, 20]) {
      const { addHook, createToken } = await tenant(t);
      for (let i = 0; i < endpoints; i++) await addHook(`http://127.0.0.1:9/cost-${endpoints}-${i}`);
      await createToken(`warm-${endpoints}`); // the first request of a key fills caches
      statements.length = 0;
      await createToken(`measured-${endpoints}`);
      counts.push(statements.length);
    }
    expect(counts[1]).toBe(counts[0]);
  });
});

describe.runIf(dialects().includes('postgres'))('postgres: two nodes and a slow receiver', () => {
  let a: TestApp;
  let b: TestApp;
  let rx: Receiver;
  beforeAll(async () => {
    rx = await startReceiver();
    const env = { ...PRIVATE_OK, TOOKEN_SECRET_KEY: randomBytes(32).toString('base64') };
    // Leases lapse by themselves here, so both nodes read one clock that moves with real time.
    const clock = realTimeClock();
    a = await createTestApp('postgres', env, { clock });
    b = await createTestApp('postgres', env, { clock, databaseUrl: a.services.config.databaseUrl });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
    await rx.close();
  });

  it('makes exactly one POST per attempt when answers take longer than a lease', async () => {
    // The margins are wide on purpose: a lease lapses only if renewing it stalls for two seconds.
    const leaseMs = 3000;
    const { ws, addHook, createToken } = await tenant(a);
    for (let i = 0; i < 12; i++) {
      rx.respond(`/slow-${i}`, () => ({ status: 200, delayMs: leaseMs + 500 }));
      await addHook(rx.url(`/slow-${i}`));
    }
    await createToken('slowly-announced');
    const options = { leaseMs, pollMs: 20, perWorkspace: 12 };
    const one = createJobRunner(a.services, silent, { ...options, nodeId: 'node-a' });
    const two = createJobRunner(b.services, silent, { ...options, nodeId: 'node-b' });
    await Promise.all([one.start(), two.start()]);
    try {
      await vi.waitFor(
        async () => {
          const settled = (await deliveriesOf(a, ws.id)).filter((d) => d.status === 'succeeded');
          expect(settled).toHaveLength(12);
        },
        { timeout: 25_000, interval: 50 },
      );
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }
    const posts = rx.requests.filter((r) => r.path.startsWith('/slow-'));
    expect(posts).toHaveLength(12);
    expect(new Set(posts.map((r) => header(r, 'x-tooken-delivery'))).size).toBe(12);
    for (const d of await deliveriesOf(a, ws.id)) expect(JSON.parse(d.attempts)).toHaveLength(1);
  });
});
