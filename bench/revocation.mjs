#!/usr/bin/env node
// Benchmark of cross-node revocation on PostgreSQL (docs/operations.md#cluster-promises; see BENCHMARKS.md).
//
// Creates a fresh database on a local PostgreSQL server, runs two built servers (dist/) against it
// as child processes on free loopback ports, then measures how long after node A answers a revoke
// (204) node B first answers REVOKED, polling B back to back. Does the same for API-key
// regeneration (old key on B: 200 → 401). Run it with `npm run bench:revocation` (which builds
// first). Traffic goes to 127.0.0.1 only; the database is dropped at the end.
//
// Knobs (environment): TOOKEN_BENCH_DATABASE_URL (an existing database on the server to connect
// to for CREATE/DROP DATABASE; postgres://postgres@127.0.0.1:5432/postgres), BENCH_ITERATIONS
// (200 token revocations), BENCH_KEY_ITERATIONS (50 API-key regenerations).

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  benchPassword,
  freePort,
  guardRun,
  intFromEnv,
  loadAverage,
  log,
  percentile,
  reportExitedServers,
  runMain,
  sessionCookie,
  startServer,
  stopServer,
  waitReady,
} from './lib.mjs';

const ADMIN_URL = process.env.TOOKEN_BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const ITERATIONS = intFromEnv('BENCH_ITERATIONS', 200, 1, 2_000);
const KEY_ITERATIONS = intFromEnv('BENCH_KEY_ITERATIONS', 50, 0, 500);
// docs/operations.md#cluster-promises: every other node honours the change within 1 s.
const LIMIT_MS = 1_000;
// Polling one change stops here (counted as over the limit); after MAX_OVERRUNS such the phase stops.
const POLL_CAP_MS = 1_500;
const MAX_OVERRUNS = 5;
// The whole run is bounded: past this the servers are killed, the database dropped, the bench fails.
const DEADLINE_MS = 115_000;

// ---------------------------------------------------------------------------------------------
// Database

function databaseUrl(name) {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function adminQuery(text) {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

/** One node of the pair: both share the database and the secret key, as a real cluster does. */
function startNode({ name, dataDir, port, dbUrl, secretKey }) {
  return startServer({
    name,
    dataDir,
    port,
    env: {
      TOOKEN_DATABASE_URL: dbUrl,
      TOOKEN_SECRET_KEY: secretKey,
      // Far above what the polling reaches, so that no request is limited.
      TOOKEN_RATE_LIMIT_PER_MINUTE: '100000000',
      TOOKEN_VERIFY_RATE_LIMIT_PER_MINUTE: '1000000000',
    },
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP: one keep-alive connection per server, so a poll is one request on a warm socket.

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** Resolves when the whole response is in, with the instant (performance.now()) it completed. */
function request(base, method, url, { body, cookie, csrf, bearer } = {}) {
  return new Promise((resolve, reject) => {
    const headers = {};
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    if (cookie) headers.cookie = cookie;
    if (csrf) headers['x-csrf-token'] = csrf;
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    const req = http.request(`${base}${url}`, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const at = performance.now();
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode, headers: res.headers, text, at });
      });
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function api(base, method, url, options = {}) {
  const res = await request(base, method, url, options);
  if (res.status < 200 || res.status >= 300) throw new Error(`${method} ${url} → ${res.status}: ${res.text}`);
  return { ...res, json: res.text === '' ? null : JSON.parse(res.text) };
}

async function setUp(base) {
  const signup = await api(base, 'POST', '/v1/auth/signup', {
    body: { email: 'bench@example.com', password: benchPassword() },
  });
  const cookie = sessionCookie(signup.headers['set-cookie'] ?? []);
  const session = { cookie, csrf: signup.json.csrf_token };
  const ws = await api(base, 'POST', '/v1/workspaces', { body: { name: 'Bench' }, ...session });
  const slug = ws.json.slug;
  const createKey = async (name) =>
    (
      await api(base, 'POST', `/v1/workspaces/${slug}/api-keys`, {
        body: { name, kind: 'team', role: 'admin' },
        ...session,
      })
    ).json;
  const key = await createKey('bench');
  const regenKey = await createKey('bench-regenerated');
  return {
    session,
    slug,
    workspaceId: ws.json.id,
    apiKey: key.key,
    regenKeyId: regenKey.id,
    regenKey: regenKey.key,
  };
}

// ---------------------------------------------------------------------------------------------
// Measurement

const fmt = (value, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

/** Polls `check` back to back until it returns true; returns the instant and the number of polls. */
async function pollUntil(check, from) {
  let polls = 0;
  const rtts = [];
  for (;;) {
    const sent = performance.now();
    const { done, at } = await check();
    polls += 1;
    rtts.push(at - sent);
    if (done) return { at, polls, rtts, capped: false };
    if (at - from > POLL_CAP_MS) return { at, polls, rtts, capped: true };
  }
}

function summarise(title, samples) {
  const delays = samples.map((s) => s.delay).sort((a, b) => a - b);
  const polls = samples.map((s) => s.polls).sort((a, b) => a - b);
  const rtts = samples.flatMap((s) => s.rtts).sort((a, b) => a - b);
  const first = samples.filter((s) => s.polls === 1 && !s.capped).length;
  const over = samples.filter((s) => s.capped || s.delay > LIMIT_MS).length;
  log('');
  log(`${title}: ${samples.length} changes`);
  log(
    `  propagation A 2xx → B's first changed answer, ms: p50 ${fmt(percentile(delays, 50))}, ` +
      `p90 ${fmt(percentile(delays, 90))}, p99 ${fmt(percentile(delays, 99))}, max ${fmt(delays.at(-1))}, ` +
      `min ${fmt(delays[0])}`,
  );
  log(
    `  first poll already changed: ${first}/${samples.length} (${fmt((100 * first) / samples.length, 1)} %); ` +
      `polls p50 ${percentile(polls, 50)}, p99 ${percentile(polls, 99)}, max ${polls.at(-1)}`,
  );
  log(
    `  one poll on B (round trip), ms: p50 ${fmt(percentile(rtts, 50))}, p99 ${fmt(percentile(rtts, 99))}, ` +
      `max ${fmt(rtts.at(-1))} (${rtts.length} polls)`,
  );
  log(`  over ${LIMIT_MS} ms: ${over}`);
  return {
    over,
    p50: percentile(delays, 50),
    p90: percentile(delays, 90),
    p99: percentile(delays, 99),
    max: delays.at(-1),
  };
}

async function tokenRevocations(a, b, ctx) {
  const samples = [];
  const verifyOnB = async (secret) => {
    const res = await request(b.base, 'POST', '/v1/tokens/verify', {
      body: { token: secret },
      bearer: ctx.apiKey,
    });
    if (res.status !== 200) throw new Error(`verify on B → ${res.status}: ${res.text}`);
    return { code: JSON.parse(res.text).code, at: res.at };
  };
  for (let i = 0; i < ITERATIONS; i++) {
    const created = await api(a.base, 'POST', '/v1/tokens', {
      body: { name: `revoke-${i}`, scopes: ['tokens:verify'] },
      bearer: ctx.apiKey,
    });
    const { id, token: secret } = created.json;
    // Cache it on B: VALID, and from then on a hit in B's token cache.
    const warm = await pollUntil(async () => {
      const { code, at } = await verifyOnB(secret);
      if (code !== 'VALID' && code !== 'NOT_FOUND') throw new Error(`new token on B: ${code}`);
      return { done: code === 'VALID', at };
    }, performance.now());
    if (warm.capped) throw new Error(`a new token did not verify VALID on B within ${POLL_CAP_MS} ms`);
    const again = await verifyOnB(secret);
    if (again.code !== 'VALID') throw new Error(`new token on B: ${again.code} on the second verify`);

    const revoked = await request(a.base, 'DELETE', `/v1/tokens/${id}`, { bearer: ctx.apiKey });
    if (revoked.status !== 204) throw new Error(`revoke on A → ${revoked.status}: ${revoked.text}`);
    const result = await pollUntil(async () => {
      const { code, at } = await verifyOnB(secret);
      if (code !== 'VALID' && code !== 'REVOKED') throw new Error(`revoked token on B: ${code}`);
      return { done: code === 'REVOKED', at };
    }, revoked.at);
    samples.push({
      delay: result.at - revoked.at,
      polls: result.polls,
      rtts: result.rtts,
      capped: result.capped,
    });
    if (samples.filter((s) => s.capped).length >= MAX_OVERRUNS) {
      log(`stopping token revocations after ${MAX_OVERRUNS} changes not seen on B within ${POLL_CAP_MS} ms`);
      break;
    }
  }
  return samples;
}

async function keyRegenerations(a, b, ctx) {
  const samples = [];
  let current = ctx.regenKey;
  const settingsOnB = async (key) => {
    const res = await request(b.base, 'GET', '/v1/settings', { bearer: key });
    if (res.status !== 200 && res.status !== 401)
      throw new Error(`settings on B → ${res.status}: ${res.text}`);
    return { status: res.status, at: res.at };
  };
  for (let i = 0; i < KEY_ITERATIONS; i++) {
    // Cache the current key on B (credential and workspace caches).
    const warm = await pollUntil(async () => {
      const { status, at } = await settingsOnB(current);
      return { done: status === 200, at };
    }, performance.now());
    if (warm.capped) throw new Error(`the current API key was not accepted on B within ${POLL_CAP_MS} ms`);
    if ((await settingsOnB(current)).status !== 200)
      throw new Error('the current API key flipped to 401 on B');

    // Only an Owner regenerates a team key: through the owner's session on A.
    const regenerated = await request(
      a.base,
      'POST',
      `/v1/workspaces/${ctx.slug}/api-keys/${ctx.regenKeyId}/regenerate`,
      ctx.session,
    );
    if (regenerated.status !== 200)
      throw new Error(`regenerate on A → ${regenerated.status}: ${regenerated.text}`);
    const old = current;
    current = JSON.parse(regenerated.text).key;
    const result = await pollUntil(async () => {
      const { status, at } = await settingsOnB(old);
      return { done: status === 401, at };
    }, regenerated.at);
    samples.push({
      delay: result.at - regenerated.at,
      polls: result.polls,
      rtts: result.rtts,
      capped: result.capped,
    });
    if (samples.filter((s) => s.capped).length >= MAX_OVERRUNS) {
      log(`stopping key regenerations after ${MAX_OVERRUNS} changes not seen on B within ${POLL_CAP_MS} ms`);
      break;
    }
  }
  return samples;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const tempDir = mkdtempSync(path.join(os.tmpdir(), 'tooken-bench-rev-'));
  const dbName = `tooken_bench_${randomBytes(6).toString('hex')}`;
  const servers = [];
  let dbCreated = false;
  let cleaned = null;
  const cleanUp = () => {
    cleaned ??= (async () => {
      await Promise.all(servers.map(stopServer));
      agent.destroy();
      if (dbCreated) {
        try {
          await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
        } catch (error) {
          process.stderr.write(`bench: could not drop database ${dbName}: ${error.message}\n`);
        }
      }
      rmSync(tempDir, { recursive: true, force: true });
    })();
    return cleaned;
  };
  // Ctrl-C or an overrun still stops the servers, drops the database and removes the temp dir.
  const disarm = guardRun({ deadlineMs: DEADLINE_MS, cleanUp, servers: () => servers });

  try {
    await adminQuery(`CREATE DATABASE ${dbName}`);
    dbCreated = true;
    const dbUrl = databaseUrl(dbName);
    const secretKey = randomBytes(32).toString('base64');
    const server = async (name) => {
      const dataDir = path.join(tempDir, name);
      mkdirSync(dataDir);
      const s = startNode({ name, dataDir, port: await freePort(), dbUrl, secretKey });
      servers.push(s);
      // One at a time: the first applies the migrations.
      await waitReady(s);
      return s;
    };
    const a = await server('A');
    const b = await server('B');
    const version = (await adminQuery('show server_version')).rows[0].server_version;
    log(`database ${dbName} on ${new URL(ADMIN_URL).host} (PostgreSQL ${version})`);
    log(`node A: pid ${a.child.pid} on ${a.base}; node B: pid ${b.child.pid} on ${b.base}`);
    log(`load average before: ${loadAverage()} (on ${os.cpus().length} CPUs)`);

    const ctx = await setUp(a.base);
    log(`workspace ${ctx.slug} (${ctx.workspaceId}), set up through A`);

    const tokenSamples = await tokenRevocations(a, b, ctx);
    const tokens = summarise(
      'Token revocation (DELETE /v1/tokens/:id on A, verify on B until REVOKED)',
      tokenSamples,
    );
    const keySamples = KEY_ITERATIONS > 0 ? await keyRegenerations(a, b, ctx) : [];
    const keys =
      KEY_ITERATIONS > 0
        ? summarise(
            'API-key regeneration (regenerate on A, GET /v1/settings on B with the old key until 401)',
            keySamples,
          )
        : { over: 0 };

    log('');
    log(`whole bench ${((Date.now() - started) / 1000).toFixed(0)} s`);
    const incomplete = tokenSamples.length < ITERATIONS || keySamples.length < KEY_ITERATIONS;
    if (tokens.over + keys.over > 0 || incomplete) {
      process.exitCode = 1;
      log(`FAILED: ${tokens.over + keys.over} changes took over ${LIMIT_MS} ms to reach node B`);
    }
  } catch (error) {
    reportExitedServers(servers);
    throw error;
  } finally {
    disarm();
    await cleanUp();
  }
}

runMain(main);
