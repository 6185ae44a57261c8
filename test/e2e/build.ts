import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const WEB_DIST = path.join(ROOT, 'web/dist');

/** A build that has not finished within this long died: its lock is taken over. */
const STALE_LOCK_MS = 10 * 60_000;

function newest(target: string): number {
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(target)) latest = Math.max(latest, newest(path.join(target, entry)));
  return latest;
}

function isFresh(): boolean {
  let built = 0;
  try {
    built = statSync(path.join(WEB_DIST, 'index.html')).mtimeMs;
  } catch {}
  const sources = ['web/src', 'web/index.html', 'web/public', 'web/vite.config.ts', 'packages/client/src'];
  return built >= Math.max(...sources.map((source) => newest(path.join(ROOT, source))));
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The browser tests and the serving tests need web/dist built from the current source: `npm
 * install` builds it; this rebuilds only when a source file is newer. Test files run in parallel
 * processes, so one builds while the others wait under a lock (as test/cli/build.ts does).
 */
export function ensureWebBuilt(): void {
  const lock = path.join(
    tmpdir(),
    `tooken-web-build-${createHash('sha256').update(ROOT).digest('hex').slice(0, 16)}`,
  );
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    try {
      if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
    } catch {}
    sleepSync(200);
  }
  try {
    if (!isFresh()) {
      execFileSync('npm', ['run', 'build', '--silent', '--workspace', '@tooken/web'], {
        cwd: ROOT,
        stdio: 'inherit',
        // vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
        env: { ...process.env, NODE_ENV: 'production' },
      });
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
