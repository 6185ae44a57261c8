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

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { chainHash } from '../dist/audit/chain.js';
import { chainedFields } from '../dist/audit/service.js';
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
  procMiB,
  reportExitedServers,
  runMain,
  signUp,
  startServer,
  stopServer,
  waitReady,
} from './lib.mjs';

const DAY_MS = 86_400_000;

const ENTRIES = intFromEnv('BENCH_AUDIT_ENTRIES', 1_000_000, 1, 20_000_000);
const VERIFY = intFromEnv('BENCH_AUDIT_VERIFY', 1, 0, 1) === 1;
const INSERT_BATCH = 10_000;
// The whole run is bounded: past this the server is killed and the bench fails.
const DEADLINE_MS = 30 * 60_000;

const fmt = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

// Longer than the lib's defaults, as this bench always allowed: its database can hold millions of rows.
const STOP_GRACE_MS = 10_000;
const READY_TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// Set-up through the HTTP API, then audit entries straight into SQLite

async function setUpWorkspace(base) {
  const { session, user } = await signUp(base);
  const ws = await createWorkspace(base, session);
  // The export is in the workspace timezone too: a zone with an offset exercises that column.
  await api(base, 'PATCH', `/v1/workspaces/${ws.slug}/settings`, {
    body: { timezone: 'Asia/Kolkata' },
    ...session,
  });
  const key = await createTeamKey(base, ws.slug, session);
  return {
    workspaceId: ws.id,
    slug: ws.slug,
    userId: user.id,
    keyId: key.id,
    apiKey: key.key,
    cookie: session.cookie,
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
    if (server) await stopServer(server, STOP_GRACE_MS);
    rmSync(dataDir, { recursive: true, force: true });
  };
  const disarm = guardRun({ deadlineMs: DEADLINE_MS, cleanUp, servers: () => (server ? [server] : []) });

  try {
    const port = await freePort();
    server = startServer({ dataDir, port });
    const base = server.base;
    await waitReady(server, READY_TIMEOUT_MS);
    const ws = await setUpWorkspace(base);
    log(`workspace ${ws.slug} (${ws.workspaceId}), timezone Asia/Kolkata, team key ${ws.keyId}`);

    // Entries go in while the server is stopped, so that its own writers never wait on the lock.
    await stopServer(server, STOP_GRACE_MS);
    const seedStart = Date.now();
    const seeded = seedAudit(path.join(dataDir, 'tooken.db'), ws, ENTRIES);
    log(
      `seeded ${ENTRIES} audit entries (${seeded.stored} in the workspace) in ` +
        `${((Date.now() - seedStart) / 1000).toFixed(1)} s`,
    );
    server = startServer({ dataDir, port });
    await waitReady(server, READY_TIMEOUT_MS);
    const pid = server.child.pid;
    // Let start-up work (migrations check, first job runs) settle before measuring.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    log(`server: pid ${pid} on ${base}, SQLite in ${dataDir}`);
    log(
      `server VmRSS idle: ${fmt(procMiB(pid, 'VmRSS'), 0)} MiB, VmHWM so far: ${fmt(procMiB(pid, 'VmHWM'), 0)} MiB`,
    );
    log(`load average before: ${loadAverage()} (on ${os.cpus().length} CPUs)`);
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
    if (server) reportExitedServers([server]);
    throw error;
  } finally {
    disarm();
    await cleanUp();
  }
}

runMain(main);
