#!/usr/bin/env node
// The load generator of bench/verify-server.mjs, run as its own process (pinned by the parent to
// another core than the server). Reads one JSON job from argv[2], drives it with autocannon and
// prints one JSON result line on stdout.
//
// Job: { url, method, path, headers, connections, seconds, expect: 'healthy' | 'valid',
//        secretsFile?, from?, to?, cycle? }
// With a secrets file (one secret per line), each request's body is {"token":"<secret>"} for the
// next secret of lines [from, to): cycling through them when `cycle`, else each presented once
// (the run ends early when they run out).

import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { loadResultLine } from './lib.mjs';

const job = JSON.parse(process.argv[2]);
const expected = {
  healthy: (body) => body === '{"status":"ok"}',
  valid: (body) => typeof body === 'string' && body.startsWith('{"valid":true,"code":"VALID",'),
}[job.expect];

let secrets = null;
if (job.secretsFile) {
  secrets = readFileSync(job.secretsFile, 'utf8').split('\n').slice(job.from, job.to);
}

let cursor = 0;
let exhausted = false;
const request = { method: job.method, path: job.path, headers: job.headers ?? {} };
if (secrets !== null) {
  request.setupRequest = (req) => {
    if (cursor >= secrets.length) {
      // Without a secret left, autocannon stops after `amount` answers; the odd extra request
      // built meanwhile repeats the last secret.
      if (job.cycle) cursor = 0;
      else exhausted = true;
    }
    req.body = `{"token":"${secrets[Math.min(cursor, secrets.length - 1)]}"}`;
    cursor += 1;
    return req;
  };
}

let unexpected = 0;
let unexpectedSample = null;
const latencies = [];
// Worst latency per 100 ms of the run (by completion time): a stall shows as a few bad buckets.
const BUCKET_MS = 100;
const worst = [];
const started = performance.now();
const instance = autocannon(
  {
    url: job.url,
    connections: job.connections,
    pipelining: 1,
    duration: job.seconds,
    ...(secrets !== null && !job.cycle ? { amount: secrets.length } : {}),
    timeout: 10,
    requests: [
      {
        ...request,
        onResponse: (status, body) => {
          if (status !== 200 || !expected(body)) {
            unexpected += 1;
            unexpectedSample ??= `${status} ${String(body).slice(0, 200)}`;
          }
        },
      },
    ],
  },
  (error, result) => {
    if (error) throw error;
    const elapsed = (performance.now() - started) / 1000;
    process.stdout.write(
      loadResultLine({
        latencies,
        worst,
        seconds: Math.min(result.duration, elapsed),
        counts: {
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          unexpected,
          unexpectedSample,
          exhausted,
          presented: Math.min(cursor, secrets?.length ?? 0),
        },
      }),
    );
  },
);
instance.on('response', (_client, _status, _bytes, responseTime) => {
  latencies.push(responseTime);
  const bucket = Math.floor((performance.now() - started) / BUCKET_MS);
  if ((worst[bucket] ?? 0) < responseTime) worst[bucket] = responseTime;
});
// `amount` replaces `duration` in autocannon: the run still ends after `seconds`.
if (secrets !== null && !job.cycle) setTimeout(() => instance.stop(), job.seconds * 1000).unref();
