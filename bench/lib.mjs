// Shared machinery of the benchmarks in bench/ (verify, audit-export, revocation).
//
// Each bench runs the built server (dist/) as child processes on free loopback ports, sets up an
// account through the HTTP API, reads the server's CPU and memory from /proc (Linux) and must
// never leave a server, a temp dir or a database behind, even on Ctrl-C or an overrun. Those
// pieces live here once, so that a fix to (say) the shutdown sequence reaches every bench.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Benches talk to loopback only: nothing they start is reachable from elsewhere. */
export const HOST = '127.0.0.1';

export const log = (line = '') => process.stdout.write(`${line}\n`);

/** A knob from the environment; a bad value stops the bench rather than silently using a default. */
export function intFromEnv(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

/**
 * The one JSON line a load generator (bench/verify-load.mjs, bench/lean-load.mjs) prints: req/s
 * and latency figures from every answer's latency in ms (sorted here), the worst latency per
 * 100 ms window, and `counts` (non2xx, errors, timeouts, unexpected, ...) as they are.
 */
export function loadResultLine({ latencies, worst, seconds, counts, keepLatencies = false }) {
  latencies.sort((a, b) => a - b);
  return `${JSON.stringify({
    seconds,
    requests: latencies.length,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    p999: percentile(latencies, 99.9),
    max: latencies[latencies.length - 1] ?? Number.NaN,
    over100ms: latencies.filter((ms) => ms > 100).length,
    slowBuckets: worst.filter((ms) => ms > 50).length,
    buckets: worst.length,
    ...counts,
    // Each answer's latency (µs precision), for a caller merging several runs' percentiles.
    ...(keepLatencies ? { latencies: latencies.map((ms) => Math.round(ms * 1000) / 1000) } : {}),
  })}\n`;
}

// ---------------------------------------------------------------------------------------------
// Server lifecycle

/** A port free right now on HOST: the OS picks it, so parallel runs do not collide. */
export function freePort() {
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

/**
 * Starts `node dist/cli/main.js serve` with the embedded SQLite default and open sign-up; `env`
 * adds to or overrides that (a database URL, rate limits); `wrap` prefixes the command. Keeps the
 * last 8 kB of its output to show when it dies. `name` labels it in messages when a bench runs more than one.
 */
export function startServer({ dataDir, port, env = {}, nodeArgs = [], name, wrap = [] }) {
  // `wrap` runs the server through a command that execs it (such as `taskset -c 0`): same pid.
  const argv = [...wrap, process.execPath, ...nodeArgs, path.join(ROOT, 'dist/cli/main.js'), 'serve'];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: dataDir,
    env: {
      ...process.env,
      TOOKEN_HOST: HOST,
      TOOKEN_PORT: String(port),
      TOOKEN_DATA_DIR: dataDir,
      TOOKEN_DATABASE_URL: '',
      TOOKEN_SIGNUP: 'open',
      TOOKEN_LOG_LEVEL: 'warn',
      ...env,
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
  return { name, child, exited, output: () => output, base: `http://${HOST}:${port}` };
}

/** How a server is named in messages: "server A" when named, else plain "server". */
const label = (server) => (server.name ? `server ${server.name}` : 'server');

/** SIGTERM (a graceful shutdown), then SIGKILL if it has not exited within `graceMs`. */
export async function stopServer(server, graceMs = 5_000) {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
  if ((await Promise.race([server.exited, timeout])) === 'timeout') {
    server.child.kill('SIGKILL');
    await server.exited;
  }
}

/** Polls /readyz until 200; fails fast, with its output, if the server exits meanwhile. */
export async function waitReady(server, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (server.child.exitCode !== null) {
      throw new Error(`${label(server)} exited with code ${server.child.exitCode}:\n${server.output()}`);
    }
    try {
      const res = await fetch(`${server.base}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${label(server)} not ready within ${timeoutMs / 1000} s:\n${server.output()}`);
}

/**
 * Makes sure the bench never outlives its bound nor leaves servers behind: Ctrl-C, SIGTERM and
 * the deadline run `cleanUp` and exit 1; on any exit, still-running servers get SIGKILL (the last
 * resort when cleanUp could not run). Returns a function that disarms the deadline.
 */
export function guardRun({ deadlineMs, cleanUp, servers }) {
  const abort = async (why) => {
    process.stderr.write(`bench: ${why}; stopping\n`);
    await cleanUp();
    process.exit(1);
  };
  process.once('SIGINT', () => abort('interrupted'));
  process.once('SIGTERM', () => abort('terminated'));
  const deadline = setTimeout(() => abort(`not finished within ${deadlineMs / 1000} s`), deadlineMs);
  process.once('exit', () => {
    for (const server of servers()) if (server.child.exitCode === null) server.child.kill('SIGKILL');
  });
  return () => clearTimeout(deadline);
}

/** After a failure: the last output of any server that died, since that is usually the cause. */
export function reportExitedServers(servers) {
  for (const server of servers) {
    if (server.child.exitCode !== null) {
      const who = server.name ? `server ${server.name}` : 'the server';
      process.stderr.write(
        `bench: ${who} exited (code ${server.child.exitCode}); its last output:\n${server.output()}\n`,
      );
    }
  }
}

/** Runs the bench's main; an error is printed and turns into exit code 1 (after its cleanup). */
export function runMain(main) {
  main().catch((error) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  });
}

// ---------------------------------------------------------------------------------------------
// /proc readings (Linux)

/** CPU seconds (user + system) used so far by a process, from /proc (Linux). */
export function cpuSeconds(pid) {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

/** CPU seconds (user + kernel) of a process's main thread alone: the rest is its worker threads'. */
export function mainThreadCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds a process has spent so far in user space and in the kernel (its syscalls). */
export function cpuTimes(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 }; // utime, stime (USER_HZ 100)
  } catch {
    return { user: Number.NaN, system: Number.NaN };
  }
}

/** CPU seconds spent busy by the whole machine (all cores) so far, from /proc/stat. */
export function machineBusySeconds() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - fields[3] - fields[4]) / 100; // minus idle and iowait, in USER_HZ (100)
  } catch {
    return Number.NaN;
  }
}

/** A memory figure (VmRSS, VmHWM, …) of a process in MiB, from /proc/<pid>/status (Linux). */
export function procMiB(pid, field) {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** The 1, 5 and 15 minute load averages: anything else running skews the figures. */
export function loadAverage() {
  return os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
}

// ---------------------------------------------------------------------------------------------
// Set-up through the HTTP API

/** One JSON request with fetch; anything but 2xx throws, with the body, to stop the bench early. */
export async function api(base, method, url, { body, cookie, csrf, bearer } = {}) {
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

/** A fresh random password for the bench account: sign-up rejects weak ones. */
export const benchPassword = () => randomBytes(18).toString('base64url');

/** The `name=value` of the session cookie among Set-Cookie headers; throws if there is none. */
export function sessionCookie(setCookies) {
  const cookie = setCookies.map((c) => c.split(';')[0]).find((c) => c.startsWith('tooken_session='));
  if (!cookie) throw new Error('signup set no tooken_session cookie');
  return cookie;
}

/** Signs up the bench account; returns the dashboard session (cookie + CSRF token) and the user. */
export async function signUp(base) {
  const signup = await api(base, 'POST', '/v1/auth/signup', {
    body: { email: 'bench@example.com', password: benchPassword() },
  });
  const session = { cookie: sessionCookie(signup.res.headers.getSetCookie()), csrf: signup.json.csrf_token };
  return { session, user: signup.json.user };
}

/** Creates the workspace "Bench" through a session; returns its JSON (id, slug, …). */
export async function createWorkspace(base, session) {
  return (await api(base, 'POST', '/v1/workspaces', { body: { name: 'Bench' }, ...session })).json;
}

/** Creates an admin team API key through a session; returns its JSON (id, name, key, …). */
export async function createTeamKey(base, slug, session, name = 'bench') {
  return (
    await api(base, 'POST', `/v1/workspaces/${slug}/api-keys`, {
      body: { name, kind: 'team', role: 'admin' },
      ...session,
    })
  ).json;
}
