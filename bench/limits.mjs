#!/usr/bin/env node
// Benchmark of a token's own limits (docs/tokens.md#limits; see BENCHMARKS.md).
//
// Creates a fresh database on a local PostgreSQL server and runs two built servers (dist/) against
// it as child processes on free loopback ports. Then:
//   1. verify throughput on node A of a token with a uses limit (one atomic UPDATE per VALID
//      answer) against a token without limits, in the same run, same concurrency;
//   2. the rate-limit overshoot across nodes: fresh tokens limited to 100 per minute, verified as
//      fast as possible on both nodes at once for a few seconds; VALID answers beyond 100 are the
//      overshoot (the nodes reconcile through the database every second).
// Run it with `npm run bench:limits` (which builds first). Traffic goes to 127.0.0.1 only; the
// database is dropped at the end.
//
// Knobs (environment): TOOKEN_BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres),
// BENCH_SECONDS (5, per throughput phase), BENCH_CONCURRENCY (16 requests in flight),
// BENCH_RATE_ROUNDS (5 tokens for the overshoot), BENCH_RATE_SECONDS (4 s of traffic per token).

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  api,
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
const SECONDS = intFromEnv('BENCH_SECONDS', 5, 1, 120);
const CONCURRENCY = intFromEnv('BENCH_CONCURRENCY', 16, 1, 256);
const RATE_ROUNDS = intFromEnv('BENCH_RATE_ROUNDS', 5, 1, 50);
const RATE_SECONDS = intFromEnv('BENCH_RATE_SECONDS', 4, 1, 30);
const RATE_LIMIT = 100;
const DEADLINE_MS = 60_000 + 2 * SECONDS * 1000 + RATE_ROUNDS * (RATE_SECONDS + 15) * 1000;

async function adminQuery(text) {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One verify on a warm keep-alive socket: the answer's JSON. */
function verify(base, apiKey, token) {
  const payload = JSON.stringify({ token });
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}/v1/tokens/verify`,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`verify → ${res.statusCode}`));
          else resolve(JSON.parse(Buffer.concat(chunks).toString()));
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('verify: no answer within 10 s')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** `CONCURRENCY` loops verifying back to back for `seconds` on each base; every answer and its latency. */
async function hammer(bases, apiKey, token, seconds) {
  const until = performance.now() + seconds * 1000;
  const answers = [];
  const loop = async (base) => {
    while (performance.now() < until) {
      const sent = performance.now();
      const answer = await verify(base, apiKey, token);
      answers.push({ code: answer.code, ms: performance.now() - sent });
    }
  };
  const started = performance.now();
  await Promise.all(bases.flatMap((base) => Array.from({ length: CONCURRENCY }, () => loop(base))));
  return { answers, seconds: (performance.now() - started) / 1000 };
}

const fmt = (value, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

function throughput(title, { answers, seconds }) {
  const ms = answers.map((a) => a.ms).sort((x, y) => x - y);
  const valid = answers.filter((a) => a.code === 'VALID').length;
  const rps = answers.length / seconds;
  log(
    `  ${title}: ${fmt(rps, 0)} verify/s (${answers.length} in ${fmt(seconds, 1)} s, ${valid} VALID), ` +
      `latency ms p50 ${fmt(percentile(ms, 50))}, p99 ${fmt(percentile(ms, 99))}`,
  );
  return rps;
}

async function main() {
  const tempDir = mkdtempSync(path.join(os.tmpdir(), 'tooken-bench-limits-'));
  const dbName = `tooken_bench_${randomBytes(6).toString('hex')}`;
  const servers = [];
  let dbCreated = false;
  let cleaned = null;
  const cleanUp = () => {
    cleaned ??= (async () => {
      await Promise.all(servers.map((s) => stopServer(s)));
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
  const disarm = guardRun({ deadlineMs: DEADLINE_MS, cleanUp, servers: () => servers });
  try {
    await adminQuery(`CREATE DATABASE ${dbName}`);
    dbCreated = true;
    const url = new URL(ADMIN_URL);
    url.pathname = `/${dbName}`;
    const secretKey = randomBytes(32).toString('base64');
    const node = async (name) => {
      const dataDir = path.join(tempDir, name);
      mkdirSync(dataDir);
      const s = startServer({
        name,
        dataDir,
        port: await freePort(),
        env: {
          TOOKEN_DATABASE_URL: url.toString(),
          TOOKEN_SECRET_KEY: secretKey,
          TOOKEN_RATE_LIMIT_PER_MINUTE: '100000000',
          TOOKEN_VERIFY_RATE_LIMIT_PER_MINUTE: '1000000000',
        },
      });
      servers.push(s);
      await waitReady(s); // one at a time: the first applies the migrations
      return s;
    };
    const a = await node('A');
    const b = await node('B');
    log(`two nodes on PostgreSQL database ${dbName}; ${os.cpus().length} CPUs, load ${loadAverage()}`);
    const { session } = await signUp(a.base);
    const ws = await createWorkspace(a.base, session);
    const apiKey = (await createTeamKey(a.base, ws.slug, session)).key;
    const create = async (name, limits) =>
      (
        await api(a.base, 'POST', '/v1/tokens', {
          bearer: apiKey,
          body: { name, scopes: ['tokens:read'], limits },
        })
      ).json;

    log('');
    log(`1. verify throughput on node A, ${CONCURRENCY} in flight, ${SECONDS} s each`);
    const plain = await create('plain', null);
    const metered = await create('metered', { uses: { remaining: 1_000_000_000 } });
    await hammer([a.base], apiKey, plain.token, 1); // warm-up
    const plainRps = throughput('no limits        ', await hammer([a.base], apiKey, plain.token, SECONDS));
    const meteredRps = throughput(
      'uses limit       ',
      await hammer([a.base], apiKey, metered.token, SECONDS),
    );
    log(`  a uses limit costs ${fmt((100 * (plainRps - meteredRps)) / plainRps, 1)} % of the throughput`);

    log('');
    log(`2. rate-limit overshoot: limit ${RATE_LIMIT}/60 s, both nodes, ${CONCURRENCY} in flight each`);
    const overshoots = [];
    for (let round = 0; round < RATE_ROUNDS; round += 1) {
      // The whole burst inside one 60-s window (windows are aligned to the epoch).
      const intoWindow = Date.now() % 60_000;
      if (intoWindow > 60_000 - (RATE_SECONDS + 2) * 1000) {
        await new Promise((resolve) => setTimeout(resolve, 60_000 - intoWindow + 100));
      }
      const token = await create(`rated-${round}`, { rate: { limit: RATE_LIMIT, window_seconds: 60 } });
      const { answers } = await hammer([a.base, b.base], apiKey, token.token, RATE_SECONDS);
      const valid = answers.filter((x) => x.code === 'VALID').length;
      overshoots.push(valid - RATE_LIMIT);
      log(
        `  round ${round + 1}: ${answers.length} verifies, ${valid} VALID → overshoot ${valid - RATE_LIMIT}`,
      );
    }
    const sorted = [...overshoots].sort((x, y) => x - y);
    log(
      `  overshoot over ${RATE_ROUNDS} rounds: min ${sorted[0]}, median ${percentile(sorted, 50)}, max ${sorted.at(-1)}`,
    );
  } catch (error) {
    reportExitedServers(servers);
    throw error;
  } finally {
    disarm();
    await cleanUp();
  }
}

runMain(main);
