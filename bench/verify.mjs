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

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import SQLite from 'better-sqlite3';
import { digest, generateSecret, hint, newId } from '../dist/auth/credentials.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';

function intFromEnv(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

const TOKENS = intFromEnv('BENCH_TOKENS', 100_000, 1, 1_000_000);
const CONNECTIONS = intFromEnv('BENCH_CONNECTIONS', 10, 1, 1000);
const DURATION_S = intFromEnv('BENCH_DURATION', 10, 1, 60);
const RUNS = intFromEnv('BENCH_RUNS', 3, 1, 5);
const WARMUP_S = intFromEnv('BENCH_WARMUP', 3, 0, 30);
const INSERT_BATCH = 5_000;
// The whole run is bounded: past this the server is killed and the bench fails.
const DEADLINE_MS = 180_000;

const log = (line = '') => process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------
// Server lifecycle

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function startServer(dataDir, port) {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist/cli/main.js'), 'serve'], {
    cwd: dataDir,
    env: {
      ...process.env,
      TOOKEN_HOST: HOST,
      TOOKEN_PORT: String(port),
      TOOKEN_DATA_DIR: dataDir,
      TOOKEN_DATABASE_URL: '',
      TOOKEN_SIGNUP: 'open',
      TOOKEN_LOG_LEVEL: 'warn',
      // Budgets far above anything this machine can drive, so that no request is limited.
      TOOKEN_RATE_LIMIT_PER_MINUTE: '100000000',
      TOOKEN_VERIFY_RATE_LIMIT_PER_MINUTE: '1000000000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => output };
}

async function stopServer(server) {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 5_000).unref());
  if ((await Promise.race([server.exited, timeout])) === 'timeout') {
    server.child.kill('SIGKILL');
    await server.exited;
  }
}

async function waitReady(base, server) {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (server.child.exitCode !== null) {
      throw new Error(`server exited with code ${server.child.exitCode}:\n${server.output()}`);
    }
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`server not ready within 30 s:\n${server.output()}`);
}

/** CPU seconds (user + system) used so far by a process, from /proc (Linux). */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds spent busy by the whole machine (all cores) so far, from /proc/stat. */
function machineBusySeconds() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - fields[3] - fields[4]) / 100; // minus idle and iowait, in USER_HZ (100)
  } catch {
    return Number.NaN;
  }
}

function rssMiB(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** The 1, 5 and 15 minute load averages: anything else running skews the figures. */
function loadAverage() {
  return os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
}

// ---------------------------------------------------------------------------------------------
// Set-up through the HTTP API, then tokens straight into SQLite

async function api(base, method, url, { body, cookie, csrf, bearer } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (cookie) headers.cookie = cookie;
  if (csrf) headers['x-csrf-token'] = csrf;
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const res = await fetch(`${base}${url}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status}: ${text}`);
  return { res, json: JSON.parse(text) };
}

async function setUpWorkspace(base) {
  const password = randomBytes(18).toString('base64url');
  const signup = await api(base, 'POST', '/v1/auth/signup', {
    body: { email: 'bench@example.com', password },
  });
  const cookie = signup.res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('tooken_session='));
  if (!cookie) throw new Error('signup set no tooken_session cookie');
  const csrf = signup.json.csrf_token;
  const ws = await api(base, 'POST', '/v1/workspaces', { body: { name: 'Bench' }, cookie, csrf });
  const key = await api(base, 'POST', `/v1/workspaces/${ws.json.slug}/api-keys`, {
    body: { name: 'bench', kind: 'team', role: 'admin' },
    cookie,
    csrf,
  });
  return {
    workspaceId: ws.json.id,
    slug: ws.json.slug,
    keyId: key.json.id,
    keyName: key.json.name,
    apiKey: key.json.key,
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

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

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
  const abort = async (why) => {
    process.stderr.write(`bench: ${why}; stopping\n`);
    await cleanUp();
    process.exit(1);
  };
  process.once('SIGINT', () => abort('interrupted'));
  process.once('SIGTERM', () => abort('terminated'));
  const deadline = setTimeout(() => abort(`not finished within ${DEADLINE_MS / 1000} s`), DEADLINE_MS);
  process.once('exit', () => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
  });

  try {
    const port = await freePort();
    const base = `http://${HOST}:${port}`;
    server = startServer(dataDir, port);
    await waitReady(base, server);
    const ws = await setUpWorkspace(base);
    log(`workspace ${ws.slug} (${ws.workspaceId}), team key ${ws.keyId}`);

    // The tokens go in while the server is stopped: a long run of write transactions from another
    // process would keep the server's own writers (job runner, usage flush) waiting on the lock.
    await stopServer(server);
    const seedStart = Date.now();
    const secrets = seedTokens(path.join(dataDir, 'tooken.db'), ws, TOKENS);
    log(`seeded ${TOKENS} tokens in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);
    server = startServer(dataDir, port);
    await waitReady(base, server);
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
    if (server && server.child.exitCode !== null) {
      process.stderr.write(
        `bench: the server exited (code ${server.child.exitCode}); its last output:\n${server.output()}\n`,
      );
    }
    throw error;
  } finally {
    clearTimeout(deadline);
    await cleanUp();
  }
}

main().catch((error) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
