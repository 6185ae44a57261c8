#!/usr/bin/env node
// The host's ceiling for bench/verify-server.mjs: a bare Node.js HTTP server (no framework, no
// hooks, no log) answering every request with the same 200 and body as Tooken's GET /healthz.
// Loaded the same way as the real server (same core, same load generator, same connections), it
// shows what latency and throughput the machine itself allows. Usage: node bench/bare-server.mjs PORT

import http from 'node:http';

const body = '{"status":"ok"}';
const port = Number(process.argv[2]);
http
  .createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    res.end(body);
  })
  .listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
