#!/usr/bin/env node
// The server bench's load generator (bench/verify-server.mjs), run as its own process pinned to
// the other core: plain keep-alive HTTP/1.1 over `net` sockets, one request in flight per
// connection, requests written from prepared bytes and answers read by their Content-Length.
// autocannon (bench/verify-load.mjs) cost about as much per request as the server's answer on a
// slow host, so there it became the bottleneck and the server sat idle part of the time; this
// costs a fraction of that, so the server's speed is what is measured (BENCHMARKS.md, round 4).
//
// Same job and result line as bench/verify-load.mjs: reads one JSON job from argv[2]
// ({ url, method, path, headers, connections, seconds, expect, secretsFile?, from?, to?, cycle?,
// keepLatencies? }) and prints one JSON line.

import { readFileSync } from 'node:fs';
import net from 'node:net';
import { loadResultLine } from './lib.mjs';

const job = JSON.parse(process.argv[2]);
const target = new URL(job.url);
const expected = {
  healthy: (body) => body === '{"status":"ok"}',
  valid: (body) => body.startsWith('{"valid":true,"code":"VALID",'),
}[job.expect];

const secrets = job.secretsFile
  ? readFileSync(job.secretsFile, 'utf8').split('\n').slice(job.from, job.to)
  : null;

const head = (length) =>
  `${job.method} ${job.path} HTTP/1.1\r\nhost: ${target.host}\r\n` +
  Object.entries(job.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('') +
  (length === null ? '' : `content-length: ${length}\r\n`) +
  '\r\n';
const fixed = secrets === null ? Buffer.from(head(null), 'latin1') : null;

let cursor = 0;
let exhausted = false;
/** The next request's bytes, or null when a run over unseen tokens has used them all. */
function nextRequest() {
  if (fixed !== null) return fixed;
  if (cursor >= secrets.length) {
    if (!job.cycle) {
      exhausted = true;
      return null;
    }
    cursor = 0;
  }
  const body = `{"token":"${secrets[cursor]}"}`;
  cursor += 1;
  return Buffer.from(head(body.length) + body, 'latin1');
}

const TIMEOUT_MS = 10_000;
const BUCKET_MS = 100;
const latencies = [];
const worst = [];
let unexpected = 0;
let unexpectedSample = null;
let errors = 0;
let timeouts = 0;
let non2xx = 0;
let stopping = false;
const started = performance.now();
const deadline = started + job.seconds * 1000;
const connections = new Set();
const CRLF2 = Buffer.from('\r\n\r\n');

function connect() {
  const socket = net.connect({ host: target.hostname, port: Number(target.port), noDelay: true });
  const conn = { socket, buffered: null, sentAt: 0, busy: false };
  connections.add(conn);
  const send = () => {
    const request = stopping || performance.now() >= deadline ? null : nextRequest();
    if (request === null) {
      stopping = true;
      return finishIfIdle();
    }
    conn.busy = true;
    conn.sentAt = performance.now();
    socket.write(request);
  };
  socket.once('connect', send);
  socket.on('data', (chunk) => {
    let data = conn.buffered === null ? chunk : Buffer.concat([conn.buffered, chunk]);
    for (;;) {
      const end = data.indexOf(CRLF2);
      if (end === -1) break;
      const header = data.toString('latin1', 0, end);
      const match = /\r\ncontent-length: *(\d+)/i.exec(header);
      if (match === null) {
        errors += 1;
        socket.destroy();
        return;
      }
      const total = end + 4 + Number(match[1]);
      if (data.length < total) break;
      const status = Number(header.slice(9, 12));
      const body = data.toString('latin1', end + 4, total);
      const now = performance.now();
      const ms = now - conn.sentAt;
      latencies.push(ms);
      const bucket = Math.floor((now - started) / BUCKET_MS);
      if ((worst[bucket] ?? 0) < ms) worst[bucket] = ms;
      if (status < 200 || status > 299) non2xx += 1;
      if (status !== 200 || !expected(body)) {
        unexpected += 1;
        unexpectedSample ??= `${status} ${body.slice(0, 200)}`;
      }
      data = data.subarray(total);
      conn.busy = false;
      send();
    }
    conn.buffered = data.length === 0 ? null : data;
  });
  socket.on('error', () => {
    errors += 1;
  });
  socket.on('close', () => {
    connections.delete(conn);
    if (!stopping && performance.now() < deadline) connect();
    else finishIfIdle();
  });
}

const watchdog = setInterval(() => {
  const now = performance.now();
  for (const conn of connections) {
    if (conn.busy && now - conn.sentAt > TIMEOUT_MS) {
      timeouts += 1;
      conn.busy = false;
      conn.socket.destroy();
    }
  }
  if (now >= deadline) {
    stopping = true;
    finishIfIdle();
  }
}, BUCKET_MS);

let finished = false;
function finishIfIdle() {
  if (finished || ![...connections].every((c) => !c.busy)) return;
  finished = true;
  clearInterval(watchdog);
  for (const conn of connections) conn.socket.destroy();
  process.stdout.write(
    loadResultLine({
      latencies,
      worst,
      seconds: (performance.now() - started) / 1000,
      counts: {
        non2xx,
        errors,
        timeouts,
        unexpected,
        unexpectedSample,
        exhausted,
        presented: secrets === null ? 0 : Math.min(cursor, secrets.length),
      },
      keepLatencies: job.keepLatencies,
    }),
  );
}

for (let i = 0; i < job.connections; i++) connect();
