#!/usr/bin/env node
// Benchmark of GET /v1/audit-logs/export over a large audit log (see BENCHMARKS.md).
//
// Runs the built server (dist/) as a child process on a free loopback port with the embedded
// SQLite default, creates a workspace and a team key through the API, stops the server and writes
// BENCH_AUDIT_ENTRIES audit entries straight into its database file (consecutive `seq`, a valid
// hash chain, `audit_heads` updated), restarts it, then streams the whole export (and a ranged
// one) to nowhere, measuring wall time, bytes, rows/s and the server's memory: VmRSS sampled every
// 20 ms during each export and VmHWM (the process's peak RSS since it started) from /proc.
// Finally it times GET /v1/audit-logs/verify over the same chain. Linux only (/proc).
// Run it with `npm run bench:audit` (which builds first). Traffic goes to 127.0.0.1 only.
//
// Knobs (environment): BENCH_AUDIT_ENTRIES (1000000), BENCH_AUDIT_VERIFY (1: also time verify).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { chainHash } from '../dist/audit/chain.js';
import { chainedFields } from '../dist/audit/service.js';
import { newId } from '../dist/auth/credentials.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const DAY_MS = 86_400_000;

function intFromEnv(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

const ENTRIES = intFromEnv('BENCH_AUDIT_ENTRIES', 1_000_000, 1, 20_000_000);
const VERIFY = intFromEnv('BENCH_AUDIT_VERIFY', 1, 0, 1) === 1;
const INSERT_BATCH = 10_000;
// The whole run is bounded: past this the server is killed and the bench fails.
const DEADLINE_MS = 30 * 60_000;

const log = (line = '') => process.stdout.write(`${line}\n`);
const fmt = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

// ---------------------------------------------------------------------------------------------
// Server lifecycle (as in bench/verify.mjs)

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
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'serve'], {
    cwd: dataDir,
    env: {
      ...process.env,
      TOOKEN_HOST: HOST,
      TOOKEN_PORT: String(port),
      TOOKEN_DATA_DIR: dataDir,
      TOOKEN_DATABASE_URL: '',
      TOOKEN_SIGNUP: 'open',
      TOOKEN_LOG_LEVEL: 'warn',
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
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref());
  if ((await Promise.race([server.exited, timeout])) === 'timeout') {
    server.child.kill('SIGKILL');
    await server.exited;
  }
}

async function waitReady(base, server) {
  const until = Date.now() + 60_000;
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
  throw new Error(`server not ready within 60 s:\n${server.output()}`);
}

/** A memory figure of a process in MiB, from /proc/<pid>/status (Linux). */
function procMiB(pid, field) {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds (user + system) used so far by a process, from /proc (Linux). */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

// ---------------------------------------------------------------------------------------------
// Set-up through the HTTP API, then audit entries straight into SQLite

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
  // The export is in the workspace timezone too: a zone with an offset exercises that column.
  await api(base, 'PATCH', `/v1/workspaces/${ws.json.slug}/settings`, {
    body: { timezone: 'Asia/Kolkata' },
    cookie,
    csrf,
  });
  const key = await api(base, 'POST', `/v1/workspaces/${ws.json.slug}/api-keys`, {
    body: { name: 'bench', kind: 'team', role: 'admin' },
    cookie,
    csrf,
  });
  return {
    workspaceId: ws.json.id,
    slug: ws.json.slug,
    userId: signup.json.user.id,
    keyId: key.json.id,
    apiKey: key.json.key,
    cookie,
  };
}

const EVENTS = [
  'token.created',
  'token.revoked',
  'token.rotated',
  'token.expired',
  'api_key.created',
  'member.role_changed',
  'workspace.settings_changed',
];

/**
 * Appends `count` entries to the workspace's chain the way src/audit/service.ts `record` does
 * (consecutive `seq`, `prev_hash` → `hash`, the head row moved along), spread evenly over the
 * last 80 days so that the server's 90-day retention job keeps them all. Returns the time span.
 */
function seedAudit(dbFile, { workspaceId, userId, keyId }, count) {
  const db = new SQLite(dbFile);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  const head = db.prepare('select seq, hash from audit_heads where workspace_id = ?').get(workspaceId);
  if (!head) throw new Error('the workspace has no audit head');
  const insert = db.prepare(
    `insert into audit_log (id, workspace_id, seq, event, created_at, actor_type, actor_id, actor_name,
       actor_user_id, target_type, target_id, target_name, changes, ip, user_agent, request_id, prev_hash, hash)
     values (@id, @workspace_id, @seq, @event, @created_at, @actor_type, @actor_id, @actor_name,
       @actor_user_id, @target_type, @target_id, @target_name, @changes, @ip, @user_agent, @request_id,
       @prev_hash, @hash)`,
  );
  const moveHead = db.prepare('update audit_heads set seq = ?, hash = ? where workspace_id = ?');
  const insertBatch = db.transaction((rows, last) => {
    for (const row of rows) insert.run(row);
    moveHead.run(last.seq, last.hash, workspaceId);
  });
  const end = Date.now() - 60_000;
  const start = end - 80 * DAY_MS;
  const step = (end - start) / count;
  let seq = Number(head.seq);
  let prev = head.hash;
  try {
    for (let first = 0; first < count; first += INSERT_BATCH) {
      const rows = [];
      for (let i = first; i < Math.min(count, first + INSERT_BATCH); i++) {
        seq += 1;
        const event = EVENTS[i % EVENTS.length];
        const personal = i % 3 === 0;
        const row = {
          id: newId('aud'),
          workspace_id: workspaceId,
          seq,
          event,
          created_at: Math.floor(start + i * step),
          actor_type: i % 11 === 0 ? 'system' : 'api_key',
          actor_id: i % 11 === 0 ? null : keyId,
          actor_name: i % 11 === 0 ? 'tooken' : 'deploy-bot, "prod"',
          actor_user_id: personal && i % 11 !== 0 ? userId : null,
          target_type: 'token',
          target_id: `tok_${String(i).padStart(24, '0')}`,
          target_name: i % 5 === 0 ? `=cmd|' /C calc'!A${i}` : `service-${i % 977}`,
          changes:
            event === 'member.role_changed'
              ? JSON.stringify({ role: { from: 'admin', to: 'viewer' } })
              : null,
          ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
          user_agent: 'tooken-cli/1.4.2 (linux; node 20)',
          request_id: `req_${String(i).padStart(24, '0')}`,
          prev_hash: prev,
          hash: '',
        };
        row.hash = chainHash(prev, chainedFields(row));
        prev = row.hash;
        rows.push(row);
      }
      insertBatch(rows, { seq, hash: prev });
    }
    const stored = db
      .prepare('select count(*) as n from audit_log where workspace_id = ?')
      .get(workspaceId).n;
    return { stored, start, end };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Measurement

/** Streams one export to nowhere, sampling the server's RSS; returns the figures. */
async function measureExport(base, pid, apiKey, query) {
  const samples = [];
  const sample = () => samples.push(procMiB(pid, 'VmRSS'));
  sample();
  const timer = setInterval(sample, 20);
  const cpuBefore = cpuSeconds(pid);
  const started = performance.now();
  let firstByte = Number.NaN;
  let bytes = 0;
  let lines = 0;
  let head = '';
  let disposition = '';
  try {
    const res = await fetch(`${base}/v1/audit-logs/export${query}`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    if (res.status !== 200) throw new Error(`export ${query} → ${res.status}: ${await res.text()}`);
    disposition = res.headers.get('content-disposition') ?? '';
    for await (const chunk of res.body) {
      if (bytes === 0) firstByte = performance.now() - started;
      bytes += chunk.length;
      if (head.length < 400) head += Buffer.from(chunk.subarray(0, 400)).toString('utf8');
      // Records end in CRLF; no cell of this data holds a line break, so line feeds count records.
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
    }
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - started) / 1000;
  sample();
  const valid = samples.filter(Number.isFinite);
  return {
    seconds,
    firstByteMs: firstByte,
    bytes,
    rows: lines - 1,
    serverCpu: cpuSeconds(pid) - cpuBefore,
    rssBefore: valid[0],
    rssPeak: Math.max(...valid),
    rssAfter: valid[valid.length - 1],
    header: head.split('\r\n')[0],
    disposition,
  };
}

function report(label, r) {
  log(`${label}`);
  log(`  rows ${r.rows}, ${fmt(r.bytes / 1024 / 1024, 1)} MiB in ${fmt(r.seconds, 2)} s`);
  log(
    `  ${fmt(r.rows / r.seconds, 0)} rows/s, ${fmt(r.bytes / 1024 / 1024 / r.seconds, 1)} MiB/s, ` +
      `first byte after ${fmt(r.firstByteMs, 0)} ms, server CPU ${fmt(r.serverCpu, 1)} s`,
  );
  log(
    `  server VmRSS: ${fmt(r.rssBefore, 0)} MiB before, ${fmt(r.rssPeak, 0)} MiB peak (20 ms samples), ` +
      `${fmt(r.rssAfter, 0)} MiB after`,
  );
  log(`  ${r.disposition}`);
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tooken-bench-audit-'));
  let server = null;
  const cleanUp = async () => {
    if (server) await stopServer(server);
    rmSync(dataDir, { recursive: true, force: true });
  };
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
    log(`workspace ${ws.slug} (${ws.workspaceId}), timezone Asia/Kolkata, team key ${ws.keyId}`);

    // Entries go in while the server is stopped, so that its own writers never wait on the lock.
    await stopServer(server);
    const seedStart = Date.now();
    const seeded = seedAudit(path.join(dataDir, 'tooken.db'), ws, ENTRIES);
    log(
      `seeded ${ENTRIES} audit entries (${seeded.stored} in the workspace) in ` +
        `${((Date.now() - seedStart) / 1000).toFixed(1)} s`,
    );
    server = startServer(dataDir, port);
    await waitReady(base, server);
    const pid = server.child.pid;
    // Let start-up work (migrations check, first job runs) settle before measuring.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    log(`server: pid ${pid} on ${base}, SQLite in ${dataDir}`);
    log(
      `server VmRSS idle: ${fmt(procMiB(pid, 'VmRSS'), 0)} MiB, VmHWM so far: ${fmt(procMiB(pid, 'VmHWM'), 0)} MiB`,
    );
    log(
      `load average before: ${os
        .loadavg()
        .map((n) => n.toFixed(2))
        .join(' ')} (on ${os.cpus().length} CPUs)`,
    );
    log('');

    const full = await measureExport(base, pid, ws.apiKey, '');
    report('GET /v1/audit-logs/export (everything)', full);
    if (full.rows !== seeded.stored) throw new Error(`exported ${full.rows} rows, expected ${seeded.stored}`);
    if (!full.header.startsWith('id,created_at,created_at_local,event,')) {
      throw new Error(`unexpected header: ${full.header}`);
    }

    // The middle half of the time span, by instants.
    const from = new Date(seeded.start + 20 * DAY_MS).toISOString();
    const to = new Date(seeded.start + 60 * DAY_MS).toISOString();
    const ranged = await measureExport(base, pid, ws.apiKey, `?from=${from}&to=${to}`);
    log('');
    report(`GET /v1/audit-logs/export?from=${from}&to=${to}`, ranged);

    if (VERIFY) {
      // Verify is Owner-only: the Owner's dashboard session (it survives the restart).
      log('');
      const verifyStart = performance.now();
      const { json } = await api(base, 'GET', `/v1/workspaces/${ws.slug}/audit-logs/verify`, {
        cookie: ws.cookie,
      });
      const seconds = (performance.now() - verifyStart) / 1000;
      log(
        `GET /v1/audit-logs/verify: ${JSON.stringify(json)} in ${fmt(seconds, 2)} s (${fmt(json.checked / seconds, 0)} entries/s)`,
      );
      if (json.ok !== true || json.checked !== seeded.stored)
        throw new Error('the seeded chain does not verify');
    }

    log('');
    log(`server VmHWM (peak RSS since start, whole process life): ${fmt(procMiB(pid, 'VmHWM'), 0)} MiB`);
    log(`whole bench ${((Date.now() - started) / 1000).toFixed(0)} s`);
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
