import { Migrator, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHash, GENESIS_HASH } from '../../src/audit/chain.js';
import { chainedFields } from '../../src/audit/service.js';
import { verifyChain } from '../../src/audit/verify-chain.js';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../../src/db/database.js';
import { migrationProvider } from '../../src/db/migrations/index.js';
import type { AuditLogTable } from '../../src/db/schema.js';
import { newId } from '../../src/ids.js';
import { dialects, freshDatabase } from '../helpers.js';

/**
 * A database written before retention recorded where it cut a chain (docs/audit.md#hash-chain):
 * upgrading takes each chain's oldest remaining entry as its start, as verification did until then.
 */
describe.each(dialects())('%s: upgrading audit chains', (dialect) => {
  let fresh: { url: string; drop(): Promise<void> };
  let database: DatabaseHandle;
  beforeAll(async () => {
    fresh = await freshDatabase(dialect);
    database = openDatabase(fresh.url);
  });
  afterAll(async () => {
    await database.close();
    await fresh.drop();
  });

  /** A workspace with a chain of `count` entries as the old recorder wrote it, then `purged` of them cut. */
  async function oldChain(count: number, purged: number) {
    const db = database.db;
    const id = newId('ws');
    await db
      .insertInto('workspaces')
      .values({
        id,
        name: id,
        slug: id.replace('_', '-'),
        timezone: 'UTC',
        default_token_expiration_days: 90,
        audit_log_retention_days: 90,
        custom_scopes: '[]',
        leak_policy: 'revoke',
        created_at: 0,
      })
      .execute();
    const rows: AuditLogTable[] = [];
    let prev = GENESIS_HASH;
    for (let seq = 1; seq <= count; seq++) {
      const row: AuditLogTable = {
        id: newId('aud'),
        workspace_id: id,
        seq,
        event: 'token.created',
        created_at: seq * 1000,
        actor_type: 'system',
        actor_id: null,
        actor_name: 'tooken',
        actor_user_id: null,
        target_type: 'token',
        target_id: `tok_${seq}`,
        target_name: `t${seq}`,
        changes: null,
        ip: null,
        user_agent: null,
        request_id: null,
        prev_hash: prev,
        hash: '',
      };
      row.hash = chainHash(prev, chainedFields(row));
      prev = row.hash;
      rows.push(row);
    }
    await db.insertInto('audit_log').values(rows).execute();
    // Only the columns the old head row had.
    await sql`insert into audit_heads (workspace_id, seq, hash) values (${id}, ${count}, ${prev})`.execute(
      db,
    );
    await db.deleteFrom('audit_log').where('workspace_id', '=', id).where('seq', '<=', purged).execute();
    return { id, rows };
  }

  it('keeps intact chains intact, cut or not, and still catches later cuts', async () => {
    const migrator = new Migrator({ db: database.db, provider: migrationProvider });
    const { error } = await migrator.migrateTo('004-webhooks');
    expect(error).toBeUndefined();
    const whole = await oldChain(5, 0);
    const cut = await oldChain(6, 2);
    const emptied = await oldChain(3, 3);
    await migrateToLatest(database.db);

    const verify = (workspaceId: string) => verifyChain(database.db, workspaceId);
    expect(await verify(whole.id)).toStrictEqual({ ok: true, checked: 5 });
    expect(await verify(cut.id)).toStrictEqual({ ok: true, checked: 4 });
    expect(await verify(emptied.id)).toStrictEqual({ ok: true, checked: 0 });

    // From now on a cut that retention did not record is a break.
    await database.db
      .deleteFrom('audit_log')
      .where('id', '=', whole.rows[0]?.id ?? '')
      .execute();
    expect(await verify(whole.id)).toStrictEqual({
      ok: false,
      checked: 0,
      first_broken_id: whole.rows[1]?.id,
    });
    await database.db
      .deleteFrom('audit_log')
      .where('id', '=', cut.rows[2]?.id ?? '')
      .execute();
    expect(await verify(cut.id)).toStrictEqual({ ok: false, checked: 0, first_broken_id: cut.rows[3]?.id });
  });
});
