#!/usr/bin/env node
// Benchmark of in-process verification (docs/edge-verification.md; see BENCHMARKS.md).
//
// Creates a fresh database on a local PostgreSQL server and runs two built servers (dist/) against
// it as child processes, then measures with @tooken/client's createVerifier (packages/client/dist):
//   1. cache-hit verifies per second in this process, on one core (target ≥ 1,000,000/s);
//   2. revoke on node A → refused by a verifier connected to node B, over BENCH_ITERATIONS tokens:
//      ms from A's 204 to the verifier's first refusal, p50/p99 (target p99 ≤ 20 ms), and the VALID
//      answers it served after the invalidation had reached it (target 0);
//   3. the middleware ratio: a Fastify app (bench/edge-app.mjs, its own process pinned to one core)
//      serving one handler at GET /open and at GET /protected behind `tookenFastify({ verifier })`
//      (its verifier connected to B, every request a cache hit), loaded in turn by autocannon
//      (bench/verify-load.mjs, pinned to the other core): req/s protected ÷ open (target ≥ 0.9×).
// Run it with `npm run bench:edge` (which builds first). Traffic goes to 127.0.0.1 only; the
// database is dropped at the end. The whole run is bounded (< 3 min).
//
// Knobs (environment): TOOKEN_BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres),
// BENCH_ITERATIONS (200 revocations), BENCH_HIT_SECONDS (3: how long the hit loop runs),
// BENCH_MW_SECONDS (3 per load run), BENCH_MW_ROUNDS (4 pairs of runs, one of each route),
// BENCH_CONNECTIONS (50), BENCH_EDGE_PHASES (`hits,revocation,middleware`: the phases to run, comma-
// separated; `BENCH_EDGE_PHASES=middleware` runs only the middleware ratio, against one node, in
// about 30 s, and passes or fails on it alone).

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createVerifier } from '../packages/client/dist/index.js';
import {
  api,
  cpuSeconds,
  createTeamKey,
  createWorkspace,
  freePort,
  guardRun,
  intFromEnv,
  loadAverage,
  log,
  percentile,
  reportExitedServers,
  runMain,
  signUp,
  startServer,
  stopServer,
  waitReady,
} from './lib.mjs';

const ADMIN_URL = process.env.TOOKEN_BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const ITERATIONS = intFromEnv('BENCH_ITERATIONS', 200, 1, 2_000);
const HIT_SECONDS = intFromEnv('BENCH_HIT_SECONDS', 3, 1, 30);
const MW_SECONDS = intFromEnv('BENCH_MW_SECONDS', 3, 1, 10);
const MW_ROUNDS = intFromEnv('BENCH_MW_ROUNDS', 4, 1, 8);
const CONNECTIONS = intFromEnv('BENCH_CONNECTIONS', 50, 1, 1000);
const MW_TARGET = 0.9;
const PHASE_NAMES = ['hits', 'revocation', 'middleware'];
const PHASES = (() => {
  const asked = (process.env.BENCH_EDGE_PHASES || PHASE_NAMES.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = asked.filter((name) => !PHASE_NAMES.includes(name));
  if (asked.length === 0 || unknown.length > 0)
    throw new Error(
      `BENCH_EDGE_PHASES: expected some of ${PHASE_NAMES.join(', ')}, got "${asked.join(',')}"`,
    );
  return new Set(asked);
})();
const HERE = path.dirname(fileURLToPath(import.meta.url));
const HIT_TARGET = 1_000_000;
const P99_TARGET_MS = 20;
// One revocation that never reaches the verifier stops waiting here (counted as a miss).
const WAIT_CAP_MS = 2_000;
const DEADLINE_MS = 170_000;

const fmt = (value, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const verdict = (pass) => (pass ? 'PASS' : 'MISS');
/** Lets I/O (the change stream) in: a loop of cache hits never yields on its own. */
const yieldToIo = () => new Promise((resolve) => setImmediate(resolve));
/**
 * Sleeps about 1 ms: waits for the change stream the way a service does, with the process asleep in
 * the event loop. A loop spinning on setImmediate keeps this process always runnable, and on a
 * shared box the scheduler then lets it wait behind everyone else when the event arrives (a bare SSE
 * read measured 4× slower at p50 and 3× at p99 with such a loop beside it). Polling by timer makes
 * each figure up to ~1 ms high, never low.
 */
const pollPause = () => new Promise((resolve) => setTimeout(resolve, 1));

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
/** The app on CPU 0, its load generator on CPU 1 (unpinned where taskset is missing). */
const pin = (cpu) => (hasTaskset ? ['taskset', '-c', String(cpu)] : []);
const APP_CPU = 0;
const LOAD_CPU = 1;

const median = (values) => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted.length === 0 ? Number.NaN : sorted[(sorted.length - 1) >> 1];
};

async function adminQuery(text) {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

function databaseUrl(name) {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Waits, yielding to I/O, until `check()` holds; false after `capMs`. */
async function waitFor(check, capMs) {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > capMs) return false;
    await pollPause();
  }
  return true;
}

/** Cache-hit verifies per second: one secret, answered from the cache, `HIT_SECONDS` long. */
async function cacheHits(verifier, secret) {
  const first = await verifier.verify(secret);
  if (first.code !== 'VALID') throw new Error(`hit bench token: ${first.code}`);
  const before = verifier.stats();
  let count = 0;
  const start = performance.now();
  const end = start + HIT_SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 10_000; i++) await verifier.verify(secret);
    count += 10_000;
    await yieldToIo();
  }
  const seconds = (performance.now() - start) / 1000;
  const after = verifier.stats();
  if (after.hits - before.hits !== count)
    throw new Error(`only ${after.hits - before.hits} of ${count} were cache hits`);
  return count / seconds;
}

async function revocations(a, verifier, apiKey) {
  const delays = [];
  // From A's 204 to the first check that saw the invalidation at the verifier: the rest of a delay
  // is the verifier asking the server (the invalidation drops the cached answer; it does not say why).
  const reachedDelays = [];
  let staleValid = 0;
  let missed = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const before = verifier.stats().events;
    const { json: created } = await api(a.base, 'POST', '/v1/tokens', {
      body: { name: `edge-${i}`, scopes: ['tokens:verify'] },
      bearer: apiKey,
    });
    // The creation is announced too: wait for it, so the next event is the revocation's.
    if (!(await waitFor(() => verifier.stats().events > before, WAIT_CAP_MS)))
      throw new Error('creation never announced');
    if ((await verifier.verify(created.token)).code !== 'VALID') throw new Error('new token not VALID');
    const hits = verifier.stats().hits;
    if ((await verifier.verify(created.token)).code !== 'VALID' || verifier.stats().hits !== hits + 1)
      throw new Error('new token not served from the cache');
    const announced = verifier.stats().events;
    const res = await fetch(`${a.base}/v1/tokens/${created.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${apiKey}` },
    });
    const revokedAt = performance.now();
    if (res.status !== 204) throw new Error(`revoke on A → ${res.status}`);
    let reachedAt = null;
    for (;;) {
      const reached = verifier.stats().events > announced;
      if (reached && reachedAt === null) reachedAt = performance.now();
      const { code } = await verifier.verify(created.token);
      const at = performance.now();
      if (code !== 'VALID') {
        delays.push(Math.max(0, at - revokedAt));
        if (reachedAt !== null) reachedDelays.push(Math.max(0, reachedAt - revokedAt));
        break;
      }
      if (reached) staleValid += 1;
      if (at - revokedAt > WAIT_CAP_MS) {
        missed += 1;
        delays.push(Number.POSITIVE_INFINITY);
        break;
      }
      await pollPause();
    }
  }
  const ascending = (x, y) => x - y;
  return { delays: delays.sort(ascending), reachedDelays: reachedDelays.sort(ascending), staleValid, missed };
}

/**
 * Starts bench/edge-app.mjs pinned to APP_CPU, shaped like a server of lib.mjs (so stopServer and
 * the run's guard stop it), once it has cached the bench token.
 */
async function startApp(env) {
  const argv = [...pin(APP_CPU), process.execPath, path.join(HERE, 'edge-app.mjs')];
  const child = spawn(argv[0], argv.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk) => {
    output = (output + chunk).slice(-8_000);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const ready = /ready (\d+)/.exec(out);
      if (ready) resolve(Number(ready[1]));
    });
    exited.then(({ code }) => reject(new Error(`edge app exited with code ${code}:\n${output}`)));
  });
  return { name: 'app', child, exited, output: () => output, base: `http://127.0.0.1:${port}` };
}

/** One autocannon run in its own process pinned to LOAD_CPU (bench/verify-load.mjs). */
function runLoad(job, loaders) {
  return new Promise((resolve, reject) => {
    const argv = [
      ...pin(LOAD_CPU),
      process.execPath,
      path.join(HERE, 'verify-load.mjs'),
      JSON.stringify(job),
    ];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
    const loader = { name: 'load', child, exited, output: () => '' };
    loaders.push(loader);
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.once('error', reject);
    exited.then(({ code }) => {
      loaders.splice(loaders.indexOf(loader), 1);
      if (code !== 0) return reject(new Error(`load generator exited with code ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (error) {
        reject(error);
      }
    });
  });
}

/**
 * The same handler unprotected and behind tookenFastify, side by side: MW_ROUNDS pairs of runs, the
 * order alternating (open first, then protected first) so that a drift of the shared box's load
 * does not favour either. Per pair, the ratio of req/s; and from /proc, the app's CPU time per
 * request, which the load of other processes on the box barely moves.
 */
async function middlewareRatio(app, secret, loaders) {
  const before = await (await fetch(`${app.base}/stats`)).json();
  const rps = { open: [], protected: [] };
  const cpu = { open: [], protected: [] };
  const ratios = [];
  for (let round = 0; round < MW_ROUNDS; round++) {
    const order = round % 2 === 0 ? ['open', 'protected'] : ['protected', 'open'];
    for (const route of order) {
      const cpuBefore = cpuSeconds(app.child.pid);
      const result = await runLoad(
        {
          url: app.base,
          method: 'GET',
          path: `/${route}`,
          // The same header on both: only the check differs.
          headers: { authorization: `Bearer ${secret}` },
          connections: CONNECTIONS,
          seconds: MW_SECONDS,
          expect: 'healthy',
        },
        loaders,
      );
      if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0 || result.unexpected > 0)
        throw new Error(`GET /${route}: ${JSON.stringify(result)}`);
      rps[route].push(result.rps);
      cpu[route].push(((cpuSeconds(app.child.pid) - cpuBefore) / result.requests) * 1e6);
    }
    ratios.push(rps.protected[round] / rps.open[round]);
  }
  const after = await (await fetch(`${app.base}/stats`)).json();
  if (after.misses !== before.misses || !after.connected)
    throw new Error(`protected requests were not all cache hits: ${JSON.stringify(after)}`);
  const cpuOpen = median(cpu.open);
  const cpuProtected = median(cpu.protected);
  return { rps, ratios, ratio: median(ratios), cpuOpen, cpuProtected, cpuRatio: cpuOpen / cpuProtected };
}

async function main() {
  const started = Date.now();
  const tempDir = mkdtempSync(path.join(os.tmpdir(), 'tooken-bench-edge-'));
  const dbName = `tooken_bench_${randomBytes(6).toString('hex')}`;
  const servers = [];
  let verifier = null;
  let dbCreated = false;
  let cleaned = null;
  const cleanUp = () => {
    cleaned ??= (async () => {
      await verifier?.close().catch(() => {});
      await Promise.all([...loaders, ...servers].map((s) => stopServer(s)));
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
  const loaders = [];
  const disarm = guardRun({ deadlineMs: DEADLINE_MS, cleanUp, servers: () => [...loaders, ...servers] });
  try {
    await adminQuery(`CREATE DATABASE ${dbName}`);
    dbCreated = true;
    const dbUrl = databaseUrl(dbName);
    const secretKey = randomBytes(32).toString('base64');
    const node = async (name) => {
      const dataDir = path.join(tempDir, name);
      mkdirSync(dataDir);
      const s = startServer({
        name,
        dataDir,
        port: await freePort(),
        env: {
          TOOKEN_DATABASE_URL: dbUrl,
          TOOKEN_SECRET_KEY: secretKey,
          TOOKEN_RATE_LIMIT_PER_MINUTE: '100000000',
          TOOKEN_VERIFY_RATE_LIMIT_PER_MINUTE: '1000000000',
          TOOKEN_LOG_LEVEL: 'warn',
        },
      });
      servers.push(s);
      await waitReady(s); // one at a time: the first applies the migrations
      return s;
    };
    const a = await node('A');
    // Node B only for the revocation phase (revoke on A, refused through B); otherwise all on A.
    const b = PHASES.has('revocation') ? await node('B') : a;
    log(
      b === a
        ? `node A on ${a.base}; PostgreSQL database ${dbName}`
        : `node A on ${a.base}; node B on ${b.base}; PostgreSQL database ${dbName}`,
    );
    log(`phases: ${[...PHASES].join(', ')}`);
    log(`load average before: ${loadAverage()} (on ${os.cpus().length} CPUs)`);

    const { session } = await signUp(a.base);
    const ws = await createWorkspace(a.base, session);
    const key = await createTeamKey(a.base, ws.slug, session);
    verifier = createVerifier({ baseUrl: b.base, apiKey: key.key, onError: () => {} });
    await verifier.ready();
    const { json: hitToken } = await api(a.base, 'POST', '/v1/tokens', {
      body: { name: 'edge-hits', scopes: ['tokens:verify'] },
      bearer: key.key,
    });
    const before = verifier.stats().events;
    await waitFor(() => verifier.stats().events > before, WAIT_CAP_MS);

    const rounds = (values) => values.map((v) => Math.round(v).toLocaleString('en')).join(' / ');
    let failed = false;
    log('');
    if (PHASES.has('hits')) {
      const perSecond = await cacheHits(verifier, hitToken.token);
      log(
        `cache-hit verifies in-process, one core: ${Math.round(perSecond).toLocaleString('en')}/s ` +
          `(target ≥ ${HIT_TARGET.toLocaleString('en')}/s) ${verdict(perSecond >= HIT_TARGET)}`,
      );
      if (perSecond < HIT_TARGET) failed = true;
    }
    if (PHASES.has('revocation')) {
      const { delays, reachedDelays, staleValid, missed } = await revocations(a, verifier, key.key);
      const p50 = percentile(delays, 50);
      const p99 = percentile(delays, 99);
      log(
        `revoke on A → refused by a verifier on B, ${delays.length} revocations: p50 ${fmt(p50)} ms, ` +
          `p99 ${fmt(p99)} ms, max ${fmt(delays.at(-1))} ms (target p99 ≤ ${P99_TARGET_MS} ms) ${verdict(p99 <= P99_TARGET_MS)}`,
      );
      log(
        `  of which A's 204 → invalidation seen at the verifier: p50 ${fmt(percentile(reachedDelays, 50))} ms, ` +
          `p99 ${fmt(percentile(reachedDelays, 99))} ms (the rest is the verifier asking B: the invalidation says nothing of why)`,
      );
      log(
        `VALID answers served after the invalidation reached the verifier: ${staleValid} (target 0) ${verdict(staleValid === 0)}` +
          (missed > 0 ? `; ${missed} revocations never reached it within ${WAIT_CAP_MS} ms` : ''),
      );
      if (p99 > P99_TARGET_MS || staleValid > 0 || missed > 0) failed = true;
    }
    if (PHASES.has('middleware')) {
      // The app goes first in the list: stopped (its verifier closed) before the nodes.
      const app = await startApp({
        TOOKEN_BENCH_BASE_URL: b.base,
        TOOKEN_BENCH_API_KEY: key.key,
        TOOKEN_BENCH_SECRET: hitToken.token,
      });
      servers.unshift(app);
      const mw = await middlewareRatio(app, hitToken.token, loaders);
      log(
        `Fastify route behind tookenFastify (in-process verifier, cache hits) vs the same route unprotected, ` +
          `${CONNECTIONS} connections, ${MW_ROUNDS} pairs of ${MW_SECONDS} s runs${hasTaskset ? ', app and load pinned to cores 0 and 1' : ''}: ` +
          `${fmt(mw.ratio)}× (target ≥ ${MW_TARGET}×) ${verdict(mw.ratio >= MW_TARGET)}`,
      );
      log(
        `  req/s open ${rounds(mw.rps.open)}; protected ${rounds(mw.rps.protected)}; ` +
          `pair ratios ${mw.ratios.map((r) => fmt(r)).join(' / ')} (median taken)`,
      );
      log(
        `  app CPU per request: open ${fmt(mw.cpuOpen, 1)} µs, protected ${fmt(mw.cpuProtected, 1)} µs ` +
          `(the ratio on a core of its own: ${fmt(mw.cpuRatio)}×; the middleware adds ${fmt(mw.cpuProtected - mw.cpuOpen, 1)} µs)`,
      );
      if (mw.ratio < MW_TARGET) failed = true;
    }
    log(`whole bench ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (failed) process.exitCode = 1;
  } catch (error) {
    reportExitedServers(servers);
    throw error;
  } finally {
    disarm();
    await cleanUp();
  }
}

runMain(main);
