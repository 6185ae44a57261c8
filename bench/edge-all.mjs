#!/usr/bin/env node
// `npm run bench:edge`: the in-process verifier, revocation across nodes and the middleware ratio
// (bench/edge.mjs), then the server's own verify path side by side with /healthz in its short mode
// (bench/verify-server.mjs, 5 s per phase). Each prints its figures with targets and PASS/MISS;
// the exit code is 1 when either missed a target. Bounded: about 40 s + 45 s.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const run = (file, env = {}) =>
  spawnSync(process.execPath, [here(file)], { stdio: 'inherit', env: { ...process.env, ...env } }).status;

const edge = run('./edge.mjs');
const server = run('./verify-server.mjs', { BENCH_SECONDS: process.env.BENCH_SECONDS ?? '5' });
process.exitCode = edge === 0 && server === 0 ? 0 : 1;
