import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { ensureBuilt } from '../cli/build.js';
import { dialects, freshDatabase } from '../helpers.js';
import { header, type Receiver, sequence, startReceiver } from '../webhook-receiver.js';
import { allAuditEntries, allTokens, call, type Json, ownerWithKey, tally } from './read-back.js';
import { type ServerProcess, serverProcesses } from './server-process.js';
import { Ledger, runLoad } from './write-load.js';

// A real `tooken serve` process under a write load (token creates and revokes, settings changes,
// all through the HTTP API) is SIGKILLed at random instants and restarted on the same data. Then
// everything it acknowledged must be there, with its audit entry; nothing may be there without
// its audit entry; the chain verifies; and every committed webhook event reaches the receiver.

const KILLS = 4;
/**
 * How long the load runs before each kill: random, and often longer than the job runner's first
 * poll (1 s after start), so that kills also land while deliveries are under way.
 */
const LOAD_MS = { min: 500, max: 2_000 };
const TOKEN_WORKERS = 2;
/**
 * Token requests pause up to this long between them: often in flight at a kill, yet few enough
 * webhook events to deliver in seconds. Settings changes never pause.
 */
const TOKEN_PAUSE_MS = 100;
/** Generous bounds: the machine may be loaded. Nothing here measures speed. */
const DELIVERY_WAIT_MS = 90_000;
const WORKSPACE_NAME = 'Crash test';
const EVENTS = ['token.created', 'token.revoked'] as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(() => ensureBuilt(), 300_000);

describe.each(dialects())('%s: a server killed at random instants under a write load', (dialect) => {
  const servers = serverProcesses();
  const ledger = new Ledger();
  let dir = '';
  let database: { url: string; drop(): Promise<void> } | null = null;
  let rx: Receiver | null = null;
  let server: ServerProcess;
  let key = '';
  /** What happened, for failure messages: the load before each kill and what was sent. */
  const story: string[] = [];
  let tokens: Json[] = [];
  let entries: Json[] = [];

  afterAll(async () => {
    await servers.killAll();
    await rx?.close();
    await database?.drop();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tooken-crash-'));
    database = dialect === 'postgres' ? await freshDatabase('postgres') : null;
    rx = await startReceiver();
    // A little slow to answer, so that kills also land while a delivery waits for its answer.
    rx.respond('/hooks', sequence({ status: 200, body: 'ok', delayMs: 50 }));
    // Every life of the server sees the same data and the same server key, as after a real crash.
    const env = {
      TOOKEN_DATA_DIR: dir,
      TOOKEN_DATABASE_URL: database?.url ?? '',
      TOOKEN_SECRET_KEY: randomBytes(32).toString('base64'),
      TOOKEN_SIGNUP: 'open',
      TOOKEN_WEBHOOK_ALLOW_PRIVATE: 'true',
      TOOKEN_RATE_LIMIT_PER_MINUTE: '1000000',
      // A delivery claimed just before a kill waits for its lease to lapse before it is claimed
      // again: 5 s here rather than the default 60 s, so the file runs in well under 2 minutes.
      TOOKEN_JOB_LEASE_MS: '5000',
    };
    server = await servers.start(dir, env);
    const owner = await ownerWithKey(server.base, WORKSPACE_NAME);
    key = owner.key;
    await call(server.base, 'POST', '/v1/webhooks', {
      bearer: key,
      body: { url: rx.url('/hooks'), events: [...EVENTS] },
    });

    for (let kill = 1; kill <= KILLS; kill++) {
      const loadMs = LOAD_MS.min + Math.floor(Math.random() * (LOAD_MS.max - LOAD_MS.min));
      let stopped = false;
      const sentBefore = ledger.sent.length;
      const load = runLoad({
        base: server.base,
        key,
        ledger,
        random: Math.random,
        tokenWorkers: TOKEN_WORKERS,
        tokenPauseMs: TOKEN_PAUSE_MS,
        stopped: () => stopped,
      });
      await sleep(loadMs);
      // However slow the machine, the checks below must have acknowledged changes to look for.
      while (!ledger.creates().some((c) => c.acked)) await sleep(10);
      // No new request starts after this; those in flight meet the kill.
      stopped = true;
      await servers.kill(server);
      await load;
      const phase = ledger.sent.slice(sentBefore);
      story.push(
        `kill ${kill} after ${loadMs} ms of load: ${phase.length} requests (${tally(phase, (s) => `${s.kind} ${s.acked ? 'acknowledged' : 'unanswered'}`)})`,
      );
      server = await servers.start(dir, env);
    }
    tokens = await allTokens(server.base, key);
    entries = (await allAuditEntries(server.base, key)).reverse(); // oldest first
  }, 240_000);

  const why = () => story.join('\n');
  const entriesOf = (event: string) => entries.filter((entry) => entry.event === event);

  it('keeps every acknowledged change, and each unanswered one whole or not at all', async () => {
    expect(ledger.unexpected, 'answers other than 2xx under the load').toEqual([]);
    expect(tokens.length).toBeGreaterThan(0);
    const byName = new Map(tokens.map((token) => [token.name as string, token]));
    const creates = ledger.creates();
    // Each token comes from one create we sent; an unanswered create made at most one token.
    const sentNames = new Set(creates.map((c) => c.name));
    expect(tokens.filter((t) => !sentNames.has(t.name)).map((t) => t.name)).toEqual([]);
    expect(byName.size).toBe(tokens.length);
    for (const create of creates.filter((c) => c.acked)) {
      expect(
        byName.get(create.name),
        `acknowledged create ${create.name} is missing\n${why()}`,
      ).toBeDefined();
      if (create.id !== null) expect(byName.get(create.name)?.id).toBe(create.id);
    }
    const byId = new Map(tokens.map((token) => [token.id as string, token]));
    for (const revoke of ledger.revokes().filter((r) => r.acked)) {
      expect(byId.get(revoke.id)?.status, `acknowledged revoke of ${revoke.id}\n${why()}`).toBe('revoked');
    }
    // Only tokens we asked to revoke are revoked.
    const revokeSent = new Set(ledger.revokes().map((r) => r.id));
    expect(tokens.filter((t) => t.status === 'revoked' && !revokeSent.has(t.id))).toEqual([]);
    expect(tokens.filter((t) => t.status === 'expired')).toEqual([]);

    // Settings changes were sent one at a time: the current name is the last acknowledged one or
    // one sent after it (whose answer the kill cut off), never an older one.
    const patches = ledger.settings();
    const lastAcked = patches.findLast((p) => p.acked);
    const possible = patches.filter((p) => p.n >= (lastAcked?.n ?? 0)).map((p) => p.value);
    if (lastAcked === undefined) possible.push(WORKSPACE_NAME);
    const { json: settings } = await call(server.base, 'GET', '/v1/settings', { bearer: key });
    expect(possible, `current workspace name\n${why()}`).toContain(settings.name);
  });

  it('has one audit entry per change and no entry without its change', async () => {
    const created = entriesOf('token.created').map((entry) => entry.target.id as string);
    expect(created.toSorted(), `token.created entries ↔ tokens\n${why()}`).toEqual(
      tokens.map((t) => t.id as string).toSorted(),
    );
    const revoked = entriesOf('token.revoked').map((entry) => entry.target.id as string);
    expect(revoked.toSorted(), `token.revoked entries ↔ revoked tokens\n${why()}`).toEqual(
      tokens
        .filter((t) => t.status === 'revoked')
        .map((t) => t.id as string)
        .toSorted(),
    );
    for (const entry of entriesOf('token.created')) {
      expect(entry.target.name).toBe(tokens.find((t) => t.id === entry.target.id)?.name);
    }

    // The settings entries, in chain order, step from one value to the next we sent, in the order
    // we sent them, and end at the current value: each change was made whole, with its entry.
    const { json: settings } = await call(server.base, 'GET', '/v1/settings', { bearer: key });
    const steps = entriesOf('workspace.settings_changed').map((entry) => entry.changes.name);
    const sentAs = new Map(ledger.settings().map((p) => [p.value, p.n]));
    const numbers = steps.map((step) => sentAs.get(step.to) ?? Number.NaN);
    expect(
      numbers.every((n, i) => n > (numbers[i - 1] ?? 0)),
      `settings entries: ${numbers}`,
    ).toBe(true);
    steps.forEach((step, i) => {
      expect(step.from, `settings entry ${i + 1} does not start where the one before ended\n${why()}`).toBe(
        i === 0 ? WORKSPACE_NAME : steps[i - 1].to,
      );
    });
    expect(steps.at(-1)?.to ?? WORKSPACE_NAME).toBe(settings.name);
    for (const patch of ledger.settings().filter((p) => p.acked)) {
      expect(numbers, `acknowledged settings change ${patch.value} has no entry\n${why()}`).toContain(
        patch.n,
      );
    }
  });

  it('keeps an audit chain that verifies', async () => {
    const { json } = await call(server.base, 'GET', '/v1/audit-logs/verify', { bearer: key });
    expect(json, why()).toMatchObject({ ok: true, checked: entries.length });
    expect(json.first_broken_id).toBeUndefined();
  });

  it(
    'delivers every committed webhook event after the restart (at least once)',
    async () => {
      if (rx === null) throw new Error('no receiver');
      const receiver = rx;
      // The events the database says were committed (the outbox, written with each change)…
      const handle = openDatabase(database?.url ?? `sqlite:${path.join(dir, 'tooken.db')}`);
      let committed: { id: string; event: string; tokenId: string }[];
      try {
        const rows = await handle.db
          .selectFrom('outbox_events')
          .select(['id', 'event', 'payload'])
          .where('event', 'in', [...EVENTS])
          .execute();
        committed = rows.map((row) => ({
          id: row.id,
          event: row.event,
          tokenId: String((JSON.parse(row.payload) as Json).id),
        }));
      } finally {
        await handle.close();
      }
      // …are one per change the audit log records.
      const pairs = (list: { event: string; tokenId: string }[]) =>
        list.map((e) => `${e.event} ${e.tokenId}`).toSorted();
      expect(pairs(committed)).toEqual(
        pairs(
          entries
            .filter((entry) => (EVENTS as readonly string[]).includes(entry.event))
            .map((entry) => ({ event: entry.event, tokenId: entry.target.id })),
        ),
      );

      // Delivery is at least once: a request sent just before a kill is sent again after the
      // restart, so an event id may arrive more than once. Each must arrive at least once.
      const seen = () => new Set(receiver.at('/hooks').map((request) => header(request, 'webhook-id')));
      const until = Date.now() + DELIVERY_WAIT_MS;
      while (committed.some((event) => !seen().has(event.id)) && Date.now() < until) await sleep(250);
      const missing = committed.filter((event) => !seen().has(event.id));
      expect(
        missing,
        `events never delivered (of ${committed.length})\n${why()}\n${server.output()}`,
      ).toEqual([]);

      // Nothing arrived that was not committed, and each body is the committed event.
      const ids = new Set(committed.map((event) => event.id));
      for (const request of receiver.at('/hooks')) {
        const body = JSON.parse(request.body) as Json;
        expect(ids.has(body.id), `delivered ${body.event} ${body.id} was never committed`).toBe(true);
        expect(header(request, 'webhook-id')).toBe(body.id);
        expect(`${body.event} ${body.data.id}`).toBe(
          pairs(committed.filter((event) => event.id === body.id))[0],
        );
      }
    },
    DELIVERY_WAIT_MS + 30_000,
  );
});
