#!/usr/bin/env node
// The service of bench/edge.mjs's middleware ratio, run as its own process (pinned by the parent to
// one core, the load generator to another): one Fastify app, one handler, served twice, at
// GET /open with no check and at GET /protected behind `tookenFastify({ verifier })`, whose
// in-process verifier (createVerifier, connected to the node named by TOOKEN_BENCH_BASE_URL) has the
// bench token cached, so every protected request is a cache hit. GET /stats reports the verifier's
// counters. Prints `ready <port>` on stdout once the token is cached; stops on SIGTERM.
//
// Environment: TOOKEN_BENCH_BASE_URL, TOOKEN_BENCH_API_KEY, TOOKEN_BENCH_SECRET (the token served).

import Fastify from 'fastify';
import { createVerifier, tookenFastify } from '../packages/client/dist/index.js';
import { HOST } from './lib.mjs';

const {
  TOOKEN_BENCH_BASE_URL: baseUrl,
  TOOKEN_BENCH_API_KEY: apiKey,
  TOOKEN_BENCH_SECRET: secret,
} = process.env;
if (!baseUrl || !apiKey || !secret) throw new Error('edge-app: TOOKEN_BENCH_* environment missing');

const verifier = createVerifier({ baseUrl, apiKey, onError: () => {} });
await verifier.ready();
const first = await verifier.verify(secret);
if (first.code !== 'VALID') throw new Error(`edge-app: bench token ${first.code}`);

const app = Fastify({ logger: false });
// As docs/middleware.md says: every request gets the same shape (without it the hook costs twice as much).
app.decorateRequest('tooken', null);
const handler = async () => ({ status: 'ok' });
app.get('/open', handler);
app.get('/protected', { preHandler: tookenFastify({ verifier }) }, handler);
app.get('/stats', async () => verifier.stats());
await app.listen({ host: HOST, port: 0 });
process.stdout.write(`ready ${app.server.address().port}\n`);

process.once('SIGTERM', async () => {
  await app.close();
  await verifier.close();
  process.exit(0);
});
