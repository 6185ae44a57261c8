#!/usr/bin/env node
// Benchmark of POST /v1/tokens/verify against GET /healthz on the same server (see BENCHMARKS.md).
//
// Runs the built server (dist/) as a child process on a free loopback port with the embedded
// SQLite default, seeds BENCH_TOKENS tokens straight into its database file, then alternates
// baseline and verify load with autocannon and prints per-run figures, medians and the ratio.
// Run it with `npm run bench:verify` (which builds first). Traffic goes to 127.0.0.1 only.
//
// Knobs (environment): BENCH_TOKENS (100000), BENCH_CONNECTIONS (10), BENCH_DURATION (10 s per
// run), BENCH_RUNS (3 of each), BENCH_WARMUP (3 s of each before the measured runs),
// BENCH_SERVER_NODE_ARGS (extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p").

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import SQLite from 'better-sqlite3';
import { digest, generateSecret, hint } from '../dist/auth/credentials.js';
import { newId } from '../dist/ids.js';
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
  machineBusySeconds,
  percentile,
  procMiB,
  reportExitedServers,
  runMain,
  signUp,
  startServer,
  stopServer,
  waitReady,
} from './lib.mjs';

const TOKENS = intFromEnv('BENCH_TOKENS', 100_000, 1, 1_000_000);
const CONNECTIONS = intFromEnv('BENCH_CONNECTIONS', 10, 1, 1000);
const DURATION_S = intFromEnv('BENCH_DURATION', 10, 1, 60);
const RUNS = intFromEnv('BENCH_RUNS', 3, 1, 5);
const WARMUP_S = intFromEnv('BENCH_WARMUP', 3, 0, 30);
const INSERT_BATCH = 5_000;
// The whole run is bounded: past this the server is killed and the bench fails.
const DEADLINE_MS = 180_000;

// ---------------------------------------------------------------------------------------------
// Server lifecycle

// Budgets far above anything this machine can drive, so that no request is limited.
const SERVER_ENV = {
  TOOKEN_RATE_LIMIT_PER_MINUTE: '100000000',
  TOOKEN_VERIFY_RATE_LIMIT_PER_MINUTE: '1000000000',
};

function startBenchServer(dataDir, port) {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return startServer({ dataDir, port, env: SERVER_ENV, nodeArgs });
}

const rssMiB = (pid) => Math.round(procMiB(pid, 'VmRSS'));

// ---------------------------------------------------------------------------------------------
// Set-up through the HTTP API, then tokens straight into SQLite

async function setUpWorkspace(base) {
  const { session } = await signUp(base);
  const ws = await createWorkspace(base, session);
  const key = await createTeamKey(base, ws.slug, session);
  return {
    workspaceId: ws.id,
    slug: ws.slug,
    keyId: key.id,
    keyName: key.name,
    apiKey: key.key,
  };
}

/**
 * Writes `count` active tokens the way src/tokens/service.ts `create` does (a `tokens` row and its
 * `token_secrets` row; never-expiring, so no expiring markers), created by the team key, and
 * returns their secrets in insertion order. No audit entries or events: they play no part in verify.
 */
function seedTokens(dbFile, { workspaceId, keyId, keyName }, count) {
  const db = new SQLite(dbFile);
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  const insertToken = db.prepare(
    `insert into tokens (id, workspace_id, name, name_lower, scopes, metadata, hint, created_at, created_by,
       created_by_id, expires_at, revoked_at, rotated_at, last_used_at, expired_recorded_at, expiring_7d_at,
       expiring_1d_at)
     values (@id, @workspace_id, @name, @name_lower, @scopes, @metadata, @hint, @created_at, @created_by,
       @created_by_id, null, null, null, null, null, null, null)`,
  );
  const insertSecret = db.prepare(
    'insert into token_secrets (digest, token_id, retires_at) values (@digest, @token_id, null)',
  );
  const scopes = JSON.stringify(['tokens:read', 'tokens:verify']);
  const insertBatch = db.transaction((rows) => {
    for (const row of rows) {
      insertToken.run(row.token);
      insertSecret.run(row.secret);
    }
  });
  const secrets = new Array(count);
  const createdAt = Date.now();
  try {
    for (let start = 0; start < count; start += INSERT_BATCH) {
      const rows = [];
      for (let i = start; i < Math.min(count, start + INSERT_BATCH); i++) {
        const secret = generateSecret('token');
        const id = newId('tok');
        const name = `bench-${String(i).padStart(6, '0')}`;
        secrets[i] = secret;
        rows.push({
          token: {
            id,
            workspace_id: workspaceId,
            name,
            name_lower: name.toLowerCase(),
            scopes,
            metadata: JSON.stringify({ service: 'bench', n: i }),
            hint: hint(secret),
            created_at: createdAt,
            created_by: keyName,
            created_by_id: keyId,
          },
          secret: { digest: digest(secret), token_id: id },
        });
      }
      insertBatch(rows);
    }
    const stored = db.prepare('select count(*) as n from token_secrets').get().n;
    if (stored !== count) throw new Error(`expected ${count} token secrets in the database, found ${stored}`);
  } finally {
    db.close();
  }
  return secrets;
}

// ---------------------------------------------------------------------------------------------
// Load

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * One autocannon run. Latency percentiles are computed from every response's own time (autocannon
 * reports a float in ms per response; its built-in histogram rounds to whole milliseconds).
 */
function runLoad({ base, serverPid, kind, seconds, request, checkBody }) {
  return new Promise((resolve, reject) => {
    const latencies = [];
    let unexpected = 0;
    let unexpectedSample = null;
    const cpuBefore = cpuSeconds(serverPid);
    const machineBefore = machineBusySeconds();
    const ownBefore = process.cpuUsage();
    const instance = autocannon(
      {
        url: base,
        connections: CONNECTIONS,
        pipelining: 1,
        duration: seconds,
        timeout: 10,
        requests: [
          {
            ...request,
            onResponse: (status, body) => {
              if (status !== 200 || !checkBody(body)) {
                unexpected += 1;
                unexpectedSample ??= `${status} ${String(body).slice(0, 200)}`;
              }
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error);
        const serverCpu = cpuSeconds(serverPid) - cpuBefore;
        const own = process.cpuUsage(ownBefore);
        const machine = machineBusySeconds() - machineBefore;
        const ownSeconds = (own.user + own.system) / 1e6;
        latencies.sort((a, b) => a - b);
        const responses = latencies.length;
        resolve({
          kind,
          seconds: result.duration,
          requests: result.requests.total,
          rps: result.requests.total / result.duration,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          max: latencies[responses - 1] ?? Number.NaN,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          responses,
          unexpected,
          unexpectedSample,
          serverCpuPct: (100 * serverCpu) / result.duration,
          loadCpuPct: (100 * ownSeconds) / result.duration,
          // Whatever else ran on the machine meanwhile (other processes, the kernel's own work).
          otherCpuPct: (100 * (machine - serverCpu - ownSeconds)) / result.duration,
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  });
}

const fmt = (value, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tooken-bench-'));
  let server = null;
  const cleanUp = async () => {
    if (server) await stopServer(server);
    rmSync(dataDir, { recursive: true, force: true });
  };
  // Ctrl-C or an overrun still stops the server and removes the data dir.
  const disarm = guardRun({ deadlineMs: DEADLINE_MS, cleanUp, servers: () => (server ? [server] : []) });

  try {
    const port = await freePort();
    server = startBenchServer(dataDir, port);
    const base = server.base;
    await waitReady(server);
    const ws = await setUpWorkspace(base);
    log(`workspace ${ws.slug} (${ws.workspaceId}), team key ${ws.keyId}`);

    // The tokens go in while the server is stopped: a long run of write transactions from another
    // process would keep the server's own writers (job runner, usage flush) waiting on the lock.
    await stopServer(server);
    const seedStart = Date.now();
    const secrets = seedTokens(path.join(dataDir, 'tooken.db'), ws, TOKENS);
    log(`seeded ${TOKENS} tokens in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);
    server = startBenchServer(dataDir, port);
    await waitReady(server);
    const pid = server.child.pid;
    log(`server: pid ${pid} on ${base}, SQLite in ${dataDir}`);
    log(`load average before: ${loadAverage()} (on ${os.cpus().length} CPUs)`);

    // A sanity check through the real endpoint before loading it.
    const probe = await api(base, 'POST', '/v1/tokens/verify', {
      body: { token: secrets[0] },
      bearer: ws.apiKey,
    });
    if (probe.json.valid !== true)
      throw new Error(`a seeded token does not verify: ${JSON.stringify(probe.json)}`);

    // Each verify request presents the next secret, cycling in order through all of them (and
    // continuing across runs): the first pass over the secrets misses the verify cache, later
    // passes hit it. secrets[0] was just verified, so the cycle starts at 1.
    let cursor = 1;
    const verifyRequest = {
      method: 'POST',
      path: '/v1/tokens/verify',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ws.apiKey}` },
      setupRequest: (req) => {
        req.body = `{"token":"${secrets[cursor % TOKENS]}"}`;
        cursor += 1;
        return req;
      },
    };
    const baselineRequest = { method: 'GET', path: '/healthz' };
    const isValid = (body) => typeof body === 'string' && body.startsWith('{"valid":true,"code":"VALID",');
    const isHealthy = (body) => body === '{"status":"ok"}';
    const phases = {
      baseline: { request: baselineRequest, checkBody: isHealthy },
      verify: { request: verifyRequest, checkBody: isValid },
    };
    const run = async (kind, seconds) => {
      const firstSecret = cursor;
      const result = await runLoad({ base, serverPid: pid, kind, seconds, ...phases[kind] });
      if (kind === 'verify') {
        // Requests whose secret was presented for the first time: cache misses (one DB read each).
        const fresh = Math.max(0, Math.min(cursor, TOKENS) - Math.min(firstSecret, TOKENS));
        result.firstSeenShare = result.requests > 0 ? fresh / (cursor - firstSecret) : 0;
      }
      return result;
    };

    log(
      `load: autocannon, ${CONNECTIONS} connections, pipelining 1, ${DURATION_S} s per run, ` +
        `${WARMUP_S} s warm-up each, ${RUNS} runs each, alternating`,
    );
    if (WARMUP_S > 0) {
      await run('baseline', WARMUP_S);
      await run('verify', WARMUP_S);
    }

    const results = [];
    log('');
    log(
      'run  endpoint        req/s     p50 ms   p99 ms   max ms   server CPU  load-gen CPU  other CPU  first-seen secrets  bad',
    );
    for (let i = 1; i <= RUNS; i++) {
      for (const kind of ['baseline', 'verify']) {
        const r = await run(kind, DURATION_S);
        results.push(r);
        const endpoint = kind === 'baseline' ? 'GET /healthz' : 'POST verify';
        const fresh = kind === 'verify' ? `${fmt(100 * r.firstSeenShare, 0)}%` : '—';
        const bad = r.unexpected + r.errors + r.timeouts;
        log(
          `${String(i).padEnd(5)}${endpoint.padEnd(14)}${fmt(r.rps, 0).padStart(7)}  ${fmt(r.p50, 3).padStart(8)} ` +
            `${fmt(r.p99, 3).padStart(8)} ${fmt(r.max, 1).padStart(8)}   ${`${fmt(r.serverCpuPct, 0)}%`.padStart(9)}  ` +
            `${`${fmt(r.loadCpuPct, 0)}%`.padStart(12)}  ${`${fmt(r.otherCpuPct, 0)}%`.padStart(9)}  ${fresh.padStart(18)}  ${String(bad).padStart(3)}`,
        );
        if (r.unexpectedSample) log(`     first unexpected response: ${r.unexpectedSample}`);
      }
    }

    const of = (kind) => results.filter((r) => r.kind === kind);
    const summary = (kind) => ({
      rps: median(of(kind).map((r) => r.rps)),
      p50: median(of(kind).map((r) => r.p50)),
      p99: median(of(kind).map((r) => r.p99)),
    });
    const baseline = summary('baseline');
    const verify = summary('verify');
    const verifyRuns = of('verify');
    const badVerify = verifyRuns.reduce((n, r) => n + r.unexpected, 0);
    const verifyResponses = verifyRuns.reduce((n, r) => n + r.responses, 0);
    const failures = results.reduce((n, r) => n + r.unexpected + r.errors + r.timeouts, 0);

    log('');
    log(
      `median GET /healthz : ${fmt(baseline.rps, 0)} req/s, p50 ${fmt(baseline.p50, 3)} ms, p99 ${fmt(baseline.p99, 3)} ms`,
    );
    log(
      `median POST verify  : ${fmt(verify.rps, 0)} req/s, p50 ${fmt(verify.p50, 3)} ms, p99 ${fmt(verify.p99, 3)} ms`,
    );
    log(`ratio verify/baseline (median req/s): ${fmt(verify.rps / baseline.rps, 3)}`);
    log(`verify responses checked: ${verifyResponses}; not {"valid":true,"code":"VALID",…}: ${badVerify}`);
    log(
      `server RSS at the end: ${rssMiB(pid)} MiB; whole bench ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    if (failures > 0) {
      process.exitCode = 1;
      log(`FAILED: ${failures} unexpected responses, errors or time-outs`);
    }
  } catch (error) {
    if (server) reportExitedServers([server]);
    throw error;
  } finally {
    disarm();
    await cleanUp();
  }
}

runMain(main);
