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

describe('reading at once on the SQLite connection (readNow)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tooken-sqlite-now-'));
  const seen: string[] = [];
  const database = openDatabase(`sqlite:${path.join(dir, 'tooken.db')}`, { onQuery: (s) => seen.push(s) });
  const readNow = database.readNow;
  const byName = (name: string) =>
    sql<{ name: string }>`select name from things where name = ${name}`.compile(database.db);
  afterAll(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers at once, synchronously, with what is committed', async () => {
    if (readNow === null) throw new Error('an SQLite database reads at once');
    await sql`create table things (name text primary key)`.execute(database.db);
    await sql`insert into things (name) values ('first')`.execute(database.db);
    expect(readNow(byName('first'))).toEqual([{ name: 'first' }]);
    expect(readNow(byName('none'))).toEqual([]);
    // Told like Kysely's own statements (tests count statements by their SQL).
    expect(seen.filter((s) => s.startsWith('select name from things')).length).toBe(2);
  });

  it('declines while a transaction is open, so an uncommitted write is never read', async () => {
    if (readNow === null) throw new Error('an SQLite database reads at once');
    let inside: unknown = 'not run';
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const transaction = database.db
      .transaction()
      .execute(async (tx) => {
        await sql`insert into things (name) values ('uncommitted')`.execute(tx);
        inside = readNow(byName('uncommitted'));
        await held;
        throw new Error('rolled back');
      })
      .catch((error: Error) => error.message);
    while (inside === 'not run') await new Promise((resolve) => setTimeout(resolve, 1));
    expect(inside).toBeUndefined();
    // The caller's fallback, Kysely, waits for the transaction to end.
    const waited = database.db.executeQuery(byName('uncommitted'));
    release();
    expect(await transaction).toBe('rolled back');
    expect((await waited).rows).toEqual([]);
    expect(readNow(byName('uncommitted'))).toEqual([]);
  });

  it('reads beside a streamed query (better-sqlite3 allows reads while a statement iterates)', async () => {
    if (readNow === null) throw new Error('an SQLite database reads at once');
    await sql`insert into things (name) values ('a'), ('b'), ('c')`.execute(database.db);
    const during: unknown[] = [];
    for await (const row of database.db
      .selectFrom('things' as never)
      .select('name' as never)
      .stream(1)) {
      during.push(row, readNow(byName('b')));
    }
    expect(during.slice(0, 2)).toEqual([{ name: 'first' }, [{ name: 'b' }]]);
  });

  it('throws a faulty statement to its caller and counts it', () => {
    if (readNow === null) throw new Error('an SQLite database reads at once');
    const before = database.stats().statementErrors;
    expect(() => readNow(sql`select name from nowhere`.compile(database.db))).toThrow(/no such table/);
    expect(database.stats().statementErrors).toBe(before + 1);
  });
});
