import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { expect } from 'vitest';
import { buildApp } from '../src/app.js';
import type { Clock } from '../src/clock.js';
import { type Config, loadConfig } from '../src/config.js';
import {
  type DatabaseHandle,
  type DialectName,
  migrateToLatest,
  type OpenOptions,
  openDatabase,
} from '../src/db/database.js';
import { JobRunner } from '../src/jobs/runner.js';
import { createLogger } from '../src/logger.js';
import { type CacheSizes, createServices, type Services } from '../src/services.js';
import { FAN_OUT_JOB } from '../src/webhooks/dispatch.js';
import { webhookJobs } from '../src/webhooks/jobs.js';
import type { Resolve } from '../src/webhooks/url-guard.js';

/** The databases every API test runs on: SQLite always, PostgreSQL when asked for. */
export function dialects(): DialectName[] {
  return process.env.TOOKEN_TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
}

/** A clock the test moves by hand. */
export interface TestClock {
  now: Clock;
  set(ms: number): void;
  advance(ms: number): void;
}

export function testClock(start = Date.parse('2026-01-15T09:00:00.000Z')): TestClock {
  let current = start;
  return { now: () => current, set: (ms) => (current = ms), advance: (ms) => (current += ms) };
}

/** A clock that moves with real time from the usual start, for tests where leases must lapse by themselves. */
export function realTimeClock(start = Date.parse('2026-01-15T09:00:00.000Z')): TestClock {
  let offset = start - Date.now();
  return {
    now: () => Date.now() + offset,
    set: (ms) => (offset = ms - Date.now()),
    advance: (ms) => (offset += ms),
  };
}

/** A fresh, empty database of the given dialect; `drop()` removes it. */
export async function freshDatabase(dialect: DialectName): Promise<{ url: string; drop(): Promise<void> }> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(path.join(tmpdir(), 'tooken-test-'));
    return {
      url: `sqlite:${path.join(dir, 'tooken.db')}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const base = process.env.TOOKEN_TEST_DATABASE_URL;
  if (!base) throw new Error('TOOKEN_TEST_DATABASE_URL is not set');
  const name = `tooken_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: base });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export interface TestApp {
  app: FastifyInstance;
  services: Services;
  database: DatabaseHandle;
  clock: TestClock;
  /** Every log line the app wrote. */
  logs: string[];
  close(): Promise<void>;
}

export async function createTestApp(
  dialect: DialectName,
  env: Record<string, string> = {},
  options: {
    databaseUrl?: string;
    onQuery?: (sql: string) => void;
    resolve?: Resolve;
    cacheSizes?: CacheSizes;
    /** The node's clock; nodes of one cluster may share one. A hand-moved clock of its own by default. */
    clock?: TestClock;
    /** Connection settings a test lowers to meet a fault sooner (the SQLite busy timeout, …). */
    database?: Pick<OpenOptions, 'busyTimeoutMs' | 'connectTimeoutMs'>;
  } = {},
): Promise<TestApp> {
  const fresh = options.databaseUrl ? null : await freshDatabase(dialect);
  const databaseUrl = options.databaseUrl ?? fresh?.url ?? '';
  const config: Config = loadConfig(
    { TOOKEN_DATABASE_URL: databaseUrl, TOOKEN_SIGNUP: 'open', ...env },
    tmpdir(),
  );
  const database = openDatabase(config.databaseUrl, {
    ...options.database,
    ...(options.onQuery ? { onQuery: options.onQuery } : {}),
  });
  await migrateToLatest(database.db);
  const clock = options.clock ?? testClock();
  const services = createServices({
    config,
    database,
    clock: clock.now,
    // Nodes sharing a database share TOOKEN_SECRET_KEY; otherwise each test app gets its own key.
    serverKey: config.secretKey !== null ? Buffer.from(config.secretKey, 'base64') : randomBytes(32),
    ...(options.resolve ? { resolve: options.resolve } : {}),
    ...(options.cacheSizes ? { cacheSizes: options.cacheSizes } : {}),
  });
  services.ready.migrated = true;
  await services.notifier.start();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const app = await buildApp(services, createLogger('debug', sink));
  await app.ready();
  return {
    app,
    services,
    database,
    clock,
    logs,
    async close() {
      await app.close();
      await services.notifier.stop();
      await database.close();
      await fresh?.drop();
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies in tests are read loosely
export type Json = Record<string, any>;

export function json(res: LightMyRequestResponse): Json {
  return res.json() as Json;
}

/** A signed-in dashboard user: the cookie and CSRF header to send. */
export interface Session {
  user: Json;
  cookie: string;
  csrf: string;
  headers: Record<string, string>;
}

let counter = 0;
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}${counter}-${randomBytes(3).toString('hex')}@example.com`;
}

export const PASSWORD = 'correct horse battery';

export async function signup(app: FastifyInstance, email = uniqueEmail()): Promise<Session> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/auth/signup',
    payload: { email, password: PASSWORD },
  });
  if (res.statusCode !== 201) throw new Error(`signup failed: ${res.statusCode} ${res.body}`);
  return sessionFrom(res);
}

export function sessionFrom(res: LightMyRequestResponse): Session {
  const setCookie = String(res.headers['set-cookie']);
  const cookie = setCookie.split(';')[0] ?? '';
  const body = json(res);
  return {
    user: body.user,
    cookie,
    csrf: body.csrf_token,
    headers: { cookie, 'x-csrf-token': body.csrf_token },
  };
}

export async function createWorkspace(app: FastifyInstance, session: Session, name = 'Acme'): Promise<Json> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/workspaces',
    headers: session.headers,
    payload: { name },
  });
  if (res.statusCode !== 201) throw new Error(`workspace failed: ${res.statusCode} ${res.body}`);
  return json(res);
}

export function bearer(secret: string): Record<string, string> {
  return { authorization: `Bearer ${secret}` };
}

export async function createApiKey(
  app: FastifyInstance,
  session: Session,
  slug: string,
  payload: Json = { name: `key-${randomBytes(3).toString('hex')}`, kind: 'team' },
): Promise<Json> {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/workspaces/${slug}/api-keys`,
    headers: session.headers,
    payload,
  });
  if (res.statusCode !== 201) throw new Error(`api key failed: ${res.statusCode} ${res.body}`);
  return json(res);
}

/** A new user who owns a new workspace, as most API tests begin. */
export interface OwnerWorkspace {
  /** The Owner's dashboard session: `session.headers` carry the cookie and the CSRF token. */
  session: Session;
  /** The workspace as `POST /v1/workspaces` answered: id, name, slug, role, created_at. */
  ws: Json;
}

/** The same, with an API key of the workspace created by its Owner (the secret is `key.key`). */
export interface OwnerWorkspaceWithKey extends OwnerWorkspace {
  key: Json;
}

export interface OwnerWorkspaceOptions {
  /** The workspace name; by default a unique one, so slugs never collide within an app. */
  name?: string;
  /** The Owner's email; by default a unique one. */
  email?: string;
}

/**
 * Signs up an Owner and creates their workspace, with an API key when `key` is given: `'team'`
 * for a team key with the default (admin) role, or the body of `POST /api-keys` for any other.
 */
export async function ownerWorkspace(
  app: FastifyInstance,
  options?: OwnerWorkspaceOptions,
): Promise<OwnerWorkspace>;
export async function ownerWorkspace(
  app: FastifyInstance,
  options: OwnerWorkspaceOptions & { key: 'team' | Json },
): Promise<OwnerWorkspaceWithKey>;
export async function ownerWorkspace(
  app: FastifyInstance,
  options: OwnerWorkspaceOptions & { key?: 'team' | Json } = {},
): Promise<OwnerWorkspace | OwnerWorkspaceWithKey> {
  const session = await signup(app, options.email ?? uniqueEmail('owner'));
  const ws = await createWorkspace(app, session, options.name ?? `Team ${randomBytes(4).toString('hex')}`);
  if (options.key === undefined) return { session, ws };
  const key =
    options.key === 'team'
      ? await createApiKey(app, session, ws.slug)
      : await createApiKey(app, session, ws.slug, options.key);
  return { session, ws, key };
}

/** Adds a user to a workspace directly (the members API arrives with invitations). */
export async function addMember(
  services: Services,
  workspaceId: string,
  userId: string,
  role: 'owner' | 'admin' | 'viewer',
) {
  await services.db
    .insertInto('members')
    .values({ workspace_id: workspaceId, user_id: userId, role, joined_at: services.clock() })
    .execute();
}

/** Asserts an error response of docs/api.md#conventions's shape, optionally naming a field in `details`. */
export function expectError(
  res: LightMyRequestResponse,
  status: number,
  error: string,
  field?: string,
): Json {
  expect(res.statusCode, res.body).toBe(status);
  const body = json(res);
  expect(body).toMatchObject({ error, status, request_id: res.headers['x-request-id'] });
  expect(typeof body.message).toBe('string');
  if (field !== undefined) {
    expect(body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
  }
  return body;
}

/** A workspace's audit entries of one event, in chain order. */
export function auditRows(services: Services, workspaceId: string, event: string) {
  return services.db
    .selectFrom('audit_log')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('event', '=', event)
    .orderBy('seq')
    .execute();
}

/** A workspace's outbox events of one kind, oldest first. */
export function outboxRows(services: Services, workspaceId: string, event: string) {
  return services.db
    .selectFrom('outbox_events')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('event', '=', event)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/**
 * Expands committed events into their webhook deliveries, as a node's job runner does moments
 * after commit, running only the fan-out jobs (no delivery is sent).
 */
export async function expandEvents(t: TestApp): Promise<number> {
  const { db, clock, audit, serverKey } = t.services;
  const fanOut = webhookJobs({ db, clock, audit, serverKey, allowPrivate: true })[FAN_OUT_JOB];
  const silent = { error() {}, warn() {}, debug() {}, info() {} };
  const runner = new JobRunner({
    db,
    adapter: t.database.adapter,
    clock,
    logger: silent,
    jobs: { [FAN_OUT_JOB]: fanOut },
  });
  // A workspace's fan-outs run one at a time, in order: run until none is due.
  let total = 0;
  for (let ran = await runner.runDue(); ran > 0; ran = await runner.runDue()) total += ran;
  return total;
}
