import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer } from '../../src/server.js';
import { dialects, freshDatabase } from '../helpers.js';

describe.each(dialects())('%s: the server process', (dialect) => {
  it('migrates, listens, answers health checks over HTTP and stops cleanly', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tooken-serve-'));
    const db = dialect === 'postgres' ? await freshDatabase('postgres') : null;
    const env: Record<string, string> = { TOOKEN_PORT: '0', TOOKEN_DATA_DIR: dataDir };
    if (db) env.TOOKEN_DATABASE_URL = db.url;
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk, _e, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const server = await startServer(loadConfig(env), logger);
    try {
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      const ready = await fetch(`${server.url}/readyz`);
      expect(await ready.json()).toEqual({ status: 'ready' });
      expect(lines.some((l) => l.includes('"migrations applied"'))).toBe(true);
    } finally {
      await server.stop();
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});
