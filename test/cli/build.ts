import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'dist/cli/main.js');

/** A build that has not finished within this long died: its lock is taken over. */
const STALE_LOCK_MS = 10 * 60_000;

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return latest;
}

function isFresh(): boolean {
  let built = 0;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {}
  const source = Math.max(newest(path.join(ROOT, 'src')), newest(path.join(ROOT, 'packages/client/src')));
  return built >= source;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The tests that run the real binary (the CLI, the crash test) need it built from the current
 * source: `npm install` builds it; this rebuilds only when a source file is newer than the build.
 * Test files run in parallel processes, so one builds while the others wait: a process must never
 * start a half-written build, nor two builds write the same files at once.
 */
export function ensureBuilt(): void {
  const lock = path.join(
    tmpdir(),
    `tooken-build-${createHash('sha256').update(ROOT).digest('hex').slice(0, 16)}`,
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
    // The server only: the dashboard (web/dist) is test/e2e/build.ts's, so a browser test running
    // meanwhile never sees its files rewritten under it.
    if (!isFresh()) execFileSync('npm', ['run', 'build:server', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
