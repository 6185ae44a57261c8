import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer } from '../../src/server.js';
import { dialects, freshDatabase, type Json } from '../helpers.js';

const modeOf = (file: string) => statSync(file).mode & 0o777;

// The data directory holds password hashes, emails, audit entries and the server key: no other
// local user may read it, however it was created.
describe.each(dialects())('%s: files at rest', (dialect) => {
  let root: string;
  let dataDir: string;
  let postgres: { url: string; drop(): Promise<void> } | null = null;
  beforeEach(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'tooken-files-'));
    dataDir = path.join(root, 'data');
    postgres = dialect === 'postgres' ? await freshDatabase('postgres') : null;
  });
  afterEach(async () => {
    await postgres?.drop();
    rmSync(root, { recursive: true, force: true });
  });

  /** The files Tooken keeps in the data directory on this database. */
  const privateFiles = () =>
    dialect === 'sqlite' ? ['tooken.db', 'tooken.db-wal', 'tooken.db-shm', 'secret.key'] : ['secret.key'];

  /** Starts a node on the data directory, runs `check` while it serves, and returns its log lines. */
  async function serve(check: () => void = () => {}): Promise<Json[]> {
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const env: Record<string, string> = { TOOKEN_PORT: '0', TOOKEN_DATA_DIR: dataDir };
    if (postgres) env.TOOKEN_DATABASE_URL = postgres.url;
    const server = await startServer(loadConfig(env), logger);
    try {
      check();
    } finally {
      await server.stop();
    }
    return lines.map((line) => JSON.parse(line) as Json);
  }

  it('creates the data directory 0700 and its files 0600', async () => {
    const previous = process.umask(0o022);
    try {
      await serve(() => {
        expect(modeOf(dataDir).toString(8)).toBe('700');
        for (const file of privateFiles()) {
          expect(modeOf(path.join(dataDir, file)).toString(8), file).toBe('600');
        }
      });
    } finally {
      process.umask(previous);
    }
  });

  it('tightens a data directory and files that exist with wider modes, logging each once', async () => {
    await serve();
    chmodSync(dataDir, 0o755);
    const widened = privateFiles().map((file) => path.join(dataDir, file));
    for (const file of widened) {
      // The WAL and shared-memory files exist while a node runs: as one would leave them on a crash.
      if (!existsSync(file)) writeFileSync(file, '');
      chmodSync(file, 0o644);
    }
    const lines = await serve(() => {
      expect(modeOf(dataDir).toString(8)).toBe('700');
      for (const file of widened) expect(modeOf(file).toString(8), file).toBe('600');
    });
    const warnings = lines.filter((line) => line.level === 40 && typeof line.file === 'string');
    expect(warnings.map((line) => line.file).sort()).toEqual([dataDir, ...widened].sort());
    for (const warning of warnings) expect(warning.msg).toMatch(/permissions/);

    const again = await serve();
    expect(again.filter((line) => line.level === 40 && typeof line.file === 'string')).toEqual([]);
  });

  it('creates missing parent directories of the data directory 0700 too', async () => {
    dataDir = path.join(root, 'nested', 'deeper', 'data');
    mkdirSync(root, { recursive: true });
    await serve(() => {
      expect(modeOf(path.join(root, 'nested')).toString(8)).toBe('700');
      expect(modeOf(dataDir).toString(8)).toBe('700');
    });
  });
});
