import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../database.js';

describe('the embedded SQLite database', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tooken-sqlite-'));
  const database = openDatabase(`sqlite:${path.join(dir, 'tooken.db')}`);
  afterAll(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('syncs its write-ahead log at every commit, so a power loss keeps what was acknowledged', async () => {
    const pragma = async (name: string) =>
      Object.values((await sql.raw(`PRAGMA ${name}`).execute(database.db)).rows[0] ?? {})[0];
    expect(await pragma('journal_mode')).toBe('wal');
    // 2 is FULL; NORMAL (1) may roll back the last commits after a power loss or an OS crash.
    expect(await pragma('synchronous')).toBe(2);
  });
});
