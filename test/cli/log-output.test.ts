import { spawn } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './build.js';

const LOGGER = path.resolve(import.meta.dirname, '../../dist/logger.js');

/** Runs `body` in a fresh Node process with `createLogger('info')` as `log` (stdout as in production). */
function run(body: string) {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { createLogger } from ${JSON.stringify(LOGGER)};\nconst log = createLogger('info');\n${body}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, exited, stdout: () => stdout };
}

beforeAll(() => ensureBuilt(), 180_000);

// Stdout is written in batches (docs/operations.md#logs): neither a quiet server nor a crash may
// keep a line in the buffer.
describe('log lines on stdout', () => {
  it('a single line is written while the process keeps running, without more lines to fill a batch', async () => {
    const proc = run(`log.info('a lone line'); setInterval(() => {}, 60_000);`);
    try {
      await new Promise<void>((resolve, reject) => {
        proc.child.stdout.on('data', () => {
          if (proc.stdout().includes('a lone line')) resolve();
        });
        proc.exited.then(() => reject(new Error(`exited early: ${proc.stdout()}`)));
      });
      expect(JSON.parse(proc.stdout().trim())).toMatchObject({ level: 30, msg: 'a lone line' });
    } finally {
      proc.child.kill('SIGKILL');
    }
  });

  it('lines still buffered are written when the process crashes', async () => {
    const proc = run(
      `for (let i = 0; i < 3; i++) log.info({ n: i }, 'before the crash'); throw new Error('crash');`,
    );
    expect(await proc.exited).not.toBe(0);
    const lines = proc
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.n)).toEqual([0, 1, 2]);
  });
});
