/** Shared pieces of the audit-log API tests (test/api/audit-*.test.ts). */
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { chainHash, GENESIS_HASH } from '../src/audit/chain.js';
import { type AuditInput, chainedFields } from '../src/audit/service.js';
import type { AuditLogTable } from '../src/db/schema.js';
import { newId } from '../src/ids.js';
import { bearer, type Json, json, ownerWorkspace, type Session, type TestApp } from './helpers.js';

export const DAY = 24 * 60 * 60 * 1000;

export const CSV_HEADER =
  'id,created_at,created_at_local,event,actor_type,actor_id,actor_name,target_type,target_id,target_name,changes,ip,user_agent';

/** Who reads: a session (slug path) or a bearer credential (short path). */
export type Reader = { session: Session; slug: string } | { secret: string };

export function readerRequest(
  reader: Reader,
  path: string,
): { url: string; headers: Record<string, string> } {
  if ('session' in reader)
    return { url: `/v1/workspaces/${reader.slug}${path}`, headers: reader.session.headers };
  return { url: `/v1${path}`, headers: bearer(reader.secret) };
}

export async function getAs(t: TestApp, reader: Reader, path: string): Promise<LightMyRequestResponse> {
  const { url, headers } = readerRequest(reader, path);
  return t.app.inject({ method: 'GET', url, headers });
}

/** GET /audit-logs with a query string, expecting 200. */
export async function listAudit(t: TestApp, reader: Reader, query = ''): Promise<Json> {
  const res = await getAs(t, reader, `/audit-logs${query ? `?${query}` : ''}`);
  if (res.statusCode !== 200) throw new Error(`audit list ${query}: ${res.statusCode} ${res.body}`);
  return json(res);
}

/** Every stored row of a workspace's log, oldest first. */
export function auditRows(t: TestApp, workspaceId: string): Promise<AuditLogTable[]> {
  return t.services.db
    .selectFrom('audit_log')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('seq', 'asc')
    .execute();
}

/** Appends entries through the real recorder, one transaction each (as a change would). */
export async function recordEntries(
  t: TestApp,
  workspaceId: string,
  count: number,
  make: (i: number) => Partial<AuditInput> = () => ({}),
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = await t.services.db.transaction().execute((tx) =>
      t.services.audit.record(tx, {
        workspaceId,
        event: 'workspace.settings_changed',
        actor: { type: 'system', id: null, name: 'test' },
        target: { type: 'workspace', id: workspaceId, name: `entry ${i}` },
        changes: null,
        meta: { ip: null, userAgent: null, requestId: null },
        ...make(i),
      }),
    );
    ids.push(id);
  }
  return ids;
}

/**
 * Appends `count` entries at the current clock in bulk, hashed and chained exactly as the recorder
 * does (for logs too large to write one change at a time).
 */
export async function seedChain(
  t: TestApp,
  workspaceId: string,
  count: number,
  make: (i: number) => Partial<AuditLogTable> = () => ({}),
): Promise<void> {
  const db = t.services.db;
  const head = await db
    .selectFrom('audit_heads')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirstOrThrow();
  let seq = Number(head.seq);
  let prev = head.hash;
  const rows: AuditLogTable[] = [];
  for (let i = 0; i < count; i++) {
    seq += 1;
    const row: AuditLogTable = {
      id: newId('aud'),
      workspace_id: workspaceId,
      seq,
      event: 'token.created',
      created_at: t.clock.now(),
      actor_type: 'system',
      actor_id: null,
      actor_name: 'seed',
      actor_user_id: null,
      target_type: 'token',
      target_id: `tok_${String(i).padStart(24, '0')}`,
      target_name: `t${i}`,
      changes: null,
      ip: null,
      user_agent: null,
      request_id: null,
      prev_hash: prev,
      hash: '',
      ...make(i),
    };
    row.hash = chainHash(prev, chainedFields(row));
    prev = row.hash;
    rows.push(row);
  }
  await db.transaction().execute(async (tx) => {
    for (let i = 0; i < rows.length; i += 500) {
      await tx
        .insertInto('audit_log')
        .values(rows.slice(i, i + 500))
        .execute();
    }
    await tx
      .updateTable('audit_heads')
      .set({ seq, hash: prev })
      .where('workspace_id', '=', workspaceId)
      .execute();
  });
}

/**
 * What the hash-chain and retention tests do again and again, on the app `app()` returns (read
 * when called, so it may be created in `beforeAll`).
 */
export function chainHelpers(app: () => TestApp) {
  return {
    /** A workspace and its Owner's personal key (an Owner credential that outlives any session). */
    async workspace(name: string) {
      const { session, ws, key } = await ownerWorkspace(app().app, {
        name,
        key: { name: 'owner-key', kind: 'personal' },
      });
      return { session, ws, ownerKey: key.key as string, reader: { secret: key.key } as Reader };
    },

    /** GET /audit-logs/verify, expecting 200. */
    async verify(reader: Reader): Promise<Json> {
      const res = await getAs(app(), reader, '/audit-logs/verify');
      expect(res.statusCode, res.body).toBe(200);
      return json(res);
    },

    async createToken(secret: string, name: string): Promise<Json> {
      const res = await app().app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: bearer(secret),
        payload: { name, scopes: ['tokens:read'] },
      });
      expect(res.statusCode, res.body).toBe(201);
      return json(res);
    },

    async patchSettings(secret: string, payload: Json): Promise<void> {
      const res = await app().app.inject({
        method: 'PATCH',
        url: '/v1/settings',
        headers: bearer(secret),
        payload,
      });
      expect(res.statusCode, res.body).toBe(200);
    },

    /** Puts deleted rows back as they were. */
    async restore(rows: AuditLogTable[]): Promise<void> {
      for (const row of rows) {
        await app()
          .services.db.insertInto('audit_log')
          .values({ ...row, seq: Number(row.seq), created_at: Number(row.created_at) })
          .execute();
      }
    },
  };
}

/** Checks the stored chain of a workspace by hand: consecutive seq, linked and hashed rows. */
export function expectIntactChain(rows: AuditLogTable[], fromGenesis = true): void {
  let prev = fromGenesis ? GENESIS_HASH : (rows[0]?.prev_hash ?? GENESIS_HASH);
  const firstSeq = Number(rows[0]?.seq ?? 1);
  rows.forEach((row, i) => {
    if (Number(row.seq) !== firstSeq + i) throw new Error(`seq gap at ${row.id}`);
    if (row.prev_hash !== prev) throw new Error(`prev_hash mismatch at ${row.id}`);
    if (chainHash(prev, chainedFields(row)) !== row.hash) throw new Error(`hash mismatch at ${row.id}`);
    prev = row.hash;
  });
}

/** A strict RFC 4180 parser: CRLF records, quoted fields with doubled quotes. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let i = 0;
  while (i < text.length) {
    let cell = '';
    if (text[i] === '"') {
      i += 1;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted cell');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        cell += text[i];
        i += 1;
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        if (text[i] === '"') throw new Error(`bare quote in an unquoted cell at ${i}`);
        cell += text[i];
        i += 1;
      }
    }
    record.push(cell);
    if (text[i] === ',') {
      i += 1;
    } else if (text.startsWith('\r\n', i)) {
      records.push(record);
      record = [];
      i += 2;
    } else if (i >= text.length) {
      throw new Error('last record not terminated by CRLF');
    } else {
      throw new Error(`unexpected character ${JSON.stringify(text[i])} at ${i}`);
    }
  }
  return records;
}
