// How long `npm start` takes from the command to the first `200` on /healthz, with a built tree:
// the first start on an empty data directory (migrations run) and later starts on the same data.
// Bounded: 5 runs of each, every server stopped before the next starts.
//
//   npm run bench:start

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, HOST, intFromEnv, log, percentile } from './lib.mjs';

const RUNS = intFromEnv('BENCH_RUNS', 5, 1, 20);
const LIMIT_MS = 30_000;

async function timeStart(dataDir) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn('npm', ['start', '--silent'], {
    env: {
      ...process.env,
      TOOKEN_PORT: String(port),
      TOOKEN_HOST: HOST,
      TOOKEN_DATA_DIR: dataDir,
      TOOKEN_LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
    detached: true,
  });
  try {
    for (;;) {
      if (performance.now() - started > LIMIT_MS) throw new Error('no answer within 30 s');
      const ok = await fetch(`http://${HOST}:${port}/healthz`).then(
        (res) => res.status === 200,
        () => false,
      );
      if (ok) return performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    process.kill(-child.pid, 'SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

const summary = (label, times) => {
  const sorted = [...times].sort((a, b) => a - b);
  log(
    `${label.padEnd(28)} median ${percentile(sorted, 50).toFixed(0)} ms   min ${sorted[0].toFixed(0)} ms   max ${sorted.at(-1).toFixed(0)} ms   (n=${sorted.length})`,
  );
  return percentile(sorted, 50);
};

const first = [];
const later = [];
for (let run = 0; run < RUNS; run++) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tooken-start-'));
  try {
    first.push(await timeStart(dir));
    later.push(await timeStart(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
log(`npm start → first 200 on /healthz (${os.cpus().length} cores, Node ${process.version})`);
summary('first start (empty data dir)', first);
const median = summary('later start', later);
log(`target: later start under 2000 ms — ${median < 2000 ? 'PASS' : 'MISS'}`);
