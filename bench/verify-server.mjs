#!/usr/bin/env node
// The verify path at the limit (see BENCHMARKS.md): the built server pinned to one core, the load
// generator (bench/lean-load.mjs, plain sockets) in its own process pinned to the other, 50
// connections, N tokens; side by side in one run: GET /healthz, cache-hit verify, all-miss verify
// (every request a token the server has not seen). Prints req/s, p50/p99, ratios to /healthz and
// the targets. Run it with `npm run bench:verify-server` (which builds first); 127.0.0.1 only.
// Short mode (about 35 s): `BENCH_SECONDS=5 node bench/verify-server.mjs`. Importable:
// `const { ratios, pass } = await runVerifyServer({ seconds: 5 })` (same options as the knobs below,
// in camelCase; it prints the same table and returns the figures instead of setting the exit code).
//
// Knobs (environment): BENCH_TOKENS (100000; up to 1000000), BENCH_CONNECTIONS (50),
// BENCH_DURATION or BENCH_SECONDS (10 s per phase), BENCH_ROUNDS (each phase is run in this many
// slices, interleaved with the others' so a change in the host's speed weighs on all alike: about
// 2 s each), BENCH_WARMUP (3 s; 1 s when a phase is shorter than 10 s), BENCH_HIT_SET (10000 tokens cycled by the
// cache-hit phase), BENCH_LOG_LEVEL (info, the server's default), BENCH_SERVER_CPU (0),
// BENCH_LOAD_CPU (1), BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").

import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import SQLite from 'better-sqlite3';
import { checksum, hint } from '../dist/auth/credentials.js';
import {
  api,
  cpuTimes,
  createTeamKey,
  createWorkspace,
  freePort,
  guardRun,
  intFromEnv,
  loadAverage,
  log,
  mainThreadCpuSeconds,
  percentile,
  reportExitedServers,
  runMain,
  signUp,
  startServer,
  stopServer,
  waitReady,
} from './lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const INSERT_BATCH = 10_000;

/** The options `runVerifyServer` takes, read from the environment (the knobs above). */
export function optionsFromEnv() {
  const seconds = intFromEnv('BENCH_SECONDS', intFromEnv('BENCH_DURATION', 10, 1, 30), 1, 30);
  return {
    tokens: intFromEnv('BENCH_TOKENS', 100_000, 1_000, 1_000_000),
    connections: intFromEnv('BENCH_CONNECTIONS', 50, 1, 1000),
    seconds,
    warmup: intFromEnv('BENCH_WARMUP', seconds < 10 ? 1 : 3, 0, 10),
    // Slices of about 2 s: 3 rounds for 5 s phases, 5 for 10 s.
    rounds: intFromEnv('BENCH_ROUNDS', Math.max(1, Math.round(seconds / 2)), 1, 30),
    hitSet: intFromEnv('BENCH_HIT_SET', 10_000, 1, 50_000),
    serverCpu: intFromEnv('BENCH_SERVER_CPU', 0, 0, 1023),
    loadCpu: intFromEnv('BENCH_LOAD_CPU', 1, 0, 1023),
    logLevel: process.env.BENCH_LOG_LEVEL || 'info',
    serverNodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean),
  };
}

// Targets (issue #14): ratios to the same server's GET /healthz in the same run, and p99 at 50 connections.
const TARGETS = { hit: { ratio: 0.8, p99: 5 }, miss: { ratio: 0.5, p99: 20 } };

const serverEnv = (logLevel) => ({
  TOOKEN_RATE_LIMIT_PER_MINUTE: '100000000',
  TOOKEN_VERIFY_RATE_LIMIT_PER_MINUTE: '1000000000',
  TOOKEN_LOG_LEVEL: logLevel,
});

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const pin = (cpu) => (hasTaskset ? ['taskset', '-c', String(cpu)] : []);

// ---------------------------------------------------------------------------------------------
// Seeding: secrets in the real format, written straight into the server's SQLite file

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

/** `length` characters of `alphabet` from random bytes (a slight modulo bias is fine for a bench). */
function randomChars(bytes, offset, length, alphabet) {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[offset + i] % alphabet.length];
  return out;
}

/**
 * `count` active, never-expiring tokens (a `tokens` row and its `token_secrets` row each, as
 * src/tokens/service.ts writes them), created by the team key. Secrets and ids come from one
 * randomBytes call per batch (generateSecret draws each character separately: too slow for 1M).
 */
function seedTokens(dbFile, { workspaceId, keyId, keyName }, count) {
  const db = new SQLite(dbFile);
  db.pragma('foreign_keys = ON');
  // The server is stopped and the file is thrown away after the run: no syncs, a big page cache
  // (the random-order inserts into two indexes are what takes the time).
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -524288');
  const insertToken = db.prepare(
    `insert into tokens (id, workspace_id, name, name_lower, scopes, metadata, hint, created_at, created_by,
       created_by_id, expires_at, revoked_at, rotated_at, last_used_at, expired_recorded_at, expiring_7d_at,
       expiring_1d_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, null, null, null, null, null, null)`,
  );
  const insertSecret = db.prepare(
    'insert into token_secrets (digest, token_id, retires_at) values (?, ?, null)',
  );
  const scopes = JSON.stringify(['tokens:read', 'tokens:verify']);
  const createdAt = Date.now();
  const secrets = new Array(count);
  const insertBatch = db.transaction((start, end) => {
    const bytes = randomBytes((end - start) * 58);
    for (let i = start; i < end; i++) {
      const at = (i - start) * 58;
      const random = randomChars(bytes, at, 34, BASE62);
      const secret = `tkn_${random}${checksum(random)}`;
      const id = `tok_${randomChars(bytes, at + 34, 24, BASE36)}`;
      const name = `bench-${String(i).padStart(7, '0')}`;
      secrets[i] = secret;
      insertToken.run(
        id,
        workspaceId,
        name,
        name,
        scopes,
        JSON.stringify({ service: 'bench', n: i }),
        hint(secret),
        createdAt,
        keyName,
        keyId,
      );
      insertSecret.run(createHash('sha256').update(secret).digest('hex'), id);
    }
  });
  try {
    for (let start = 0; start < count; start += INSERT_BATCH)
      insertBatch(start, Math.min(count, start + INSERT_BATCH));
    const stored = db.prepare('select count(*) as n from token_secrets').get().n;
    if (stored !== count) throw new Error(`expected ${count} token secrets, found ${stored}`);
  } finally {
    db.close();
  }
  return secrets;
}

// ---------------------------------------------------------------------------------------------
// Load, in a separate pinned process

/** Load generators running now: stopped with the server when the bench is interrupted or overruns. */
const loaders = new Set();

function runLoad(job, loadCpu) {
  return new Promise((resolve, reject) => {
    const argv = [...pin(loadCpu), process.execPath, path.join(HERE, 'lean-load.mjs'), JSON.stringify(job)];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    loaders.add(child);
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      loaders.delete(child);
      if (code !== 0) return reject(new Error(`load generator exited with code ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** bench/bare-server.mjs on `port`, through `wrap` (taskset), shaped like lib.mjs `startServer`'s result. */
function startBareServer(port, wrap) {
  const argv = [...wrap, process.execPath, path.join(HERE, 'bare-server.mjs'), String(port)];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr.on('data', (chunk) => {
    output = (output + chunk.toString()).slice(-8_000);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { name: 'bare', child, exited, output: () => output, base: `http://127.0.0.1:${port}` };
}

/** A phase's figures summed over its slices. */
function emptyTotals() {
  return {
    seconds: 0,
    latencies: [],
    over100ms: 0,
    slowBuckets: 0,
    buckets: 0,
    unexpected: 0,
    unexpectedSample: null,
    errors: 0,
    timeouts: 0,
    presented: 0,
    exhausted: false,
    user: 0,
    system: 0,
    main: 0,
  };
}

/** Adds one slice's load result and the server's CPU seconds during it. */
function addSlice(t, r, cpu) {
  t.seconds += r.seconds;
  for (const ms of r.latencies) t.latencies.push(ms);
  for (const key of ['over100ms', 'slowBuckets', 'buckets', 'unexpected', 'errors', 'timeouts', 'presented'])
    t[key] += r[key];
  t.unexpectedSample ??= r.unexpectedSample;
  t.exhausted ||= r.exhausted;
  t.user += cpu.user;
  t.system += cpu.system;
  t.main += cpu.main;
}

/** A phase's row: req/s and percentiles over all its answers, server CPU per answer. */
function summarise(t) {
  const sorted = t.latencies.sort((a, b) => a - b);
  const requests = sorted.length;
  const cpu = t.user + t.system;
  return {
    seconds: t.seconds,
    requests,
    rps: requests / t.seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted[requests - 1] ?? Number.NaN,
    over100ms: t.over100ms,
    slowBuckets: t.slowBuckets,
    buckets: t.buckets,
    unexpected: t.unexpected,
    unexpectedSample: t.unexpectedSample,
    errors: t.errors,
    timeouts: t.timeouts,
    presented: t.presented,
    exhausted: t.exhausted,
    serverCpuPct: (100 * cpu) / t.seconds,
    // Server CPU per answer: steadier than req/s on a shared machine (it ignores time the server waited for a core).
    cpuPerRequestUs: (1e6 * cpu) / requests,
    // The kernel's part (socket reads and writes, the log's writes): paid per answer, not per byte.
    systemPerRequestUs: (1e6 * t.system) / requests,
    // What the other threads (the SQLite last-use writer, V8's GC helpers, libuv's pool) spent, per answer.
    otherThreadsPerRequestUs: (1e6 * (cpu - t.main)) / requests,
  };
}

const fmt = (value, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const verdict = (ok) => (ok ? 'PASS' : 'MISS');

// ---------------------------------------------------------------------------------------------

/**
 * One side-by-side run: prints the table and returns `{ results, ratios, pass, failures, ... }`
 * (`results.healthz|hit|miss`: rps, p50, p99, p999, max, serverCpuPct, cpuPerRequestUs, ...).
 * `guard` (default true): a deadline and Ctrl-C stop and clean up everything, then exit 1.
 */
export async function runVerifyServer(overrides = {}) {
  const defaults = optionsFromEnv();
  const {
    tokens: TOKENS,
    connections: CONNECTIONS,
    seconds: DURATION_S,
    hitSet: HIT_SET,
    rounds: ROUNDS,
    serverCpu: SERVER_CPU,
    loadCpu: LOAD_CPU,
    logLevel: LOG_LEVEL,
    serverNodeArgs: nodeArgs,
    guard = true,
  } = { ...defaults, ...overrides };
  const WARMUP_S =
    overrides.warmup ?? (overrides.seconds !== undefined && overrides.seconds < 10 ? 1 : defaults.warmup);
  const SERVER_ENV = serverEnv(LOG_LEVEL);
  // Under 3 minutes with the default 100,000 tokens; seeding a million takes up to a few minutes more.
  const DEADLINE_MS = TOKENS > 200_000 ? 360_000 : 180_000;
  const started = Date.now();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tooken-bench-'));
  let server = null;
  let bare = null;
  const cleanUp = async () => {
    for (const loader of loaders) loader.kill('SIGKILL');
    if (server) await stopServer(server);
    if (bare) await stopServer(bare);
    rmSync(dataDir, { recursive: true, force: true });
  };
  const disarm = guard
    ? guardRun({ deadlineMs: DEADLINE_MS, cleanUp, servers: () => [server, bare].filter(Boolean) })
    : () => {};

  try {
    const port = await freePort();
    server = startServer({ dataDir, port, env: SERVER_ENV });
    const base = server.base;
    await waitReady(server);
    const { session } = await signUp(base);
    const ws = await createWorkspace(base, session);
    const key = await createTeamKey(base, ws.slug, session);
    await stopServer(server);

    const seedStart = Date.now();
    const secrets = seedTokens(
      path.join(dataDir, 'tooken.db'),
      { workspaceId: ws.id, keyId: key.id, keyName: key.name },
      TOKENS,
    );
    const secretsFile = path.join(dataDir, 'secrets.txt');
    writeFileSync(secretsFile, secrets.join('\n'));
    log(`seeded ${TOKENS} tokens in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);

    server = startServer({ dataDir, port, env: SERVER_ENV, nodeArgs, wrap: pin(SERVER_CPU) });
    await waitReady(server);
    const pid = server.child.pid;
    const loadAverageBefore = loadAverage();
    log(
      `server pid ${pid} on cpu ${hasTaskset ? SERVER_CPU : 'any'}, load generator on cpu ${hasTaskset ? LOAD_CPU : 'any'}; ` +
        `log level ${LOG_LEVEL}; ${CONNECTIONS} connections; load average before: ${loadAverageBefore} (${os.cpus().length} CPUs)`,
    );
    const probe = await api(base, 'POST', '/v1/tokens/verify', {
      body: { token: secrets[0] },
      bearer: key.key,
    });
    if (probe.json.valid !== true)
      throw new Error(`a seeded token does not verify: ${JSON.stringify(probe.json)}`);

    const healthz = {
      url: base,
      method: 'GET',
      path: '/healthz',
      connections: CONNECTIONS,
      expect: 'healthy',
    };
    const verify = {
      url: base,
      method: 'POST',
      path: '/v1/tokens/verify',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key.key}` },
      connections: CONNECTIONS,
      expect: 'valid',
      secretsFile,
    };
    const hitSet = Math.min(HIT_SET, Math.floor(TOKENS / 10));
    // Warm-up: one pass over the hit set (each a miss) fills the cache; then JIT for each path.
    await runLoad({ ...verify, from: 0, to: hitSet, cycle: false, seconds: 30 }, LOAD_CPU);
    if (WARMUP_S > 0) {
      await runLoad({ ...healthz, seconds: WARMUP_S }, LOAD_CPU);
      await runLoad({ ...verify, from: 0, to: hitSet, cycle: true, seconds: WARMUP_S }, LOAD_CPU);
    }
    // The host's ceiling: a bare Node.js server on the same core, loaded like the real one.
    bare = startBareServer(await freePort(), pin(SERVER_CPU));
    await waitReady(bare);
    await runLoad({ ...healthz, url: bare.base, seconds: WARMUP_S || 1 }, LOAD_CPU);

    // The phases run interleaved, in ROUNDS rounds of one slice each, so that a change in the
    // host's speed during the run weighs on all of them alike; each phase's figures are over all
    // its slices (latency percentiles over every answer of the phase).
    const slice = DURATION_S / ROUNDS;
    const phases = [
      ['GET /healthz', 'healthz', pid, () => ({ ...healthz, seconds: slice })],
      [
        'verify, cache hit',
        'hit',
        pid,
        () => ({ ...verify, from: 0, to: hitSet, cycle: true, seconds: slice }),
      ],
      [
        'verify, all miss',
        'miss',
        pid,
        // Every slice presents tokens no earlier slice presented.
        (done) => ({ ...verify, from: hitSet + done.presented, to: TOKENS, cycle: false, seconds: slice }),
      ],
      ['bare Node.js GET', 'bare', bare.child.pid, () => ({ ...healthz, url: bare.base, seconds: slice })],
    ];
    const totals = Object.fromEntries(phases.map(([, name]) => [name, emptyTotals()]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [, name, phasePid, jobOf] of phases) {
        const done = totals[name];
        const before = cpuTimes(phasePid);
        const mainBefore = mainThreadCpuSeconds(phasePid);
        const r = await runLoad({ ...jobOf(done), keepLatencies: true }, LOAD_CPU);
        const after = cpuTimes(phasePid);
        addSlice(done, r, {
          user: after.user - before.user,
          system: after.system - before.system,
          main: mainThreadCpuSeconds(phasePid) - mainBefore,
        });
      }
    }
    const results = {};
    log('');
    log(
      'phase               req/s    p50 ms   p99 ms  p99.9 ms   max ms  >100 ms  server CPU  CPU µs/req (kernel, other threads)  bad',
    );
    for (const [label, name] of phases) {
      const r = summarise(totals[name]);
      results[name] = r;
      const bad = r.unexpected + r.errors + r.timeouts;
      log(
        `${label.padEnd(18)}${fmt(r.rps, 0).padStart(7)}  ${fmt(r.p50, 3).padStart(8)} ${fmt(r.p99, 3).padStart(8)} ` +
          `${fmt(r.p999, 2).padStart(9)} ${fmt(r.max, 1).padStart(8)} ${String(r.over100ms).padStart(8)}  ` +
          `${`${fmt(r.serverCpuPct, 0)}%`.padStart(10)}  ${fmt(r.cpuPerRequestUs, 0).padStart(10)} ${`(${fmt(r.systemPerRequestUs, 0)}, ${fmt(r.otherThreadsPerRequestUs, 0)})`.padStart(12)}  ${String(bad).padStart(3)}`,
      );
      if (name === 'miss') {
        log(
          `                  (${r.presented} unseen tokens presented in ${fmt(r.seconds, 1)} s${r.exhausted ? ', all of them' : ''})`,
        );
      }
      if (r.unexpectedSample) log(`                  first unexpected response: ${r.unexpectedSample}`);
    }
    log(
      `                  (${ROUNDS} interleaved rounds of ${fmt(slice, 2)} s per phase; the last row is the host's ceiling:\n` +
        '                   a bare Node.js server on the same core answering a constant, no framework, no log)',
    );

    log('');
    let failures = 0;
    const ratios = {};
    const pass = {};
    for (const name of ['hit', 'miss']) {
      const r = results[name];
      const ratio = r.rps / results.healthz.rps;
      const target = TARGETS[name];
      ratios[name] = ratio;
      pass[name] = { ratio: ratio >= target.ratio, p99: r.p99 < target.p99 };
      log(
        `${name.padEnd(5)} ratio ${fmt(ratio, 3)} (target ≥ ${target.ratio}) ${verdict(ratio >= target.ratio)}; ` +
          `p99 ${fmt(r.p99, 2)} ms (target < ${target.p99}) ${verdict(r.p99 < target.p99)}; ` +
          `100 ms windows with a response over 50 ms: ${r.slowBuckets} of ${r.buckets}`,
      );
    }
    log(
      `host  a bare Node.js server on the same core: ${fmt(results.bare.rps, 0)} req/s, p99 ${fmt(results.bare.p99, 2)} ms ` +
        `(/healthz is ${fmt(results.healthz.rps / results.bare.rps, 3)} × its req/s)`,
    );
    for (const r of Object.values(results)) failures += r.unexpected + r.errors + r.timeouts;
    log(`tokens ${TOKENS}, hit set ${hitSet}; whole bench ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (failures > 0) log(`FAILED: ${failures} unexpected responses, errors or time-outs`);
    return { results, ratios, pass, failures, tokens: TOKENS, hitSet, targets: TARGETS, loadAverageBefore };
  } catch (error) {
    if (server) reportExitedServers([server]);
    throw error;
  } finally {
    disarm();
    await cleanUp();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runMain(async () => {
    const { failures } = await runVerifyServer();
    if (failures > 0) process.exitCode = 1;
  });
}
