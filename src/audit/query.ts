import type { SelectQueryBuilder } from 'kysely';
import { type PageOf, type PageRequest, paginate } from '../db/paginate.js';
import type { AuditLogTable, Database, Db } from '../db/schema.js';
import { badField } from '../errors.js';

export interface AuditFilter {
  from?: number | undefined;
  to?: number | undefined;
  events?: string[] | undefined;
  actorId?: string | undefined;
  targetId?: string | undefined;
}

type AuditQuery = SelectQueryBuilder<Database, 'audit_log', object>;

export function filtered(db: Db, workspaceId: string, filter: AuditFilter): AuditQuery {
  let query: AuditQuery = db.selectFrom('audit_log').where('workspace_id', '=', workspaceId);
  if (filter.from !== undefined) query = query.where('created_at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('created_at', '<', filter.to);
  if (filter.events !== undefined && filter.events.length > 0)
    query = query.where('event', 'in', filter.events);
  if (filter.actorId !== undefined) query = query.where('actor_id', '=', filter.actorId);
  if (filter.targetId !== undefined) query = query.where('target_id', '=', filter.targetId);
  return query;
}

/**
 * Cursors are positions in the workspace's append order (`seq`), which new entries never enter
 * below: walking newest-first from a cursor sees no duplicates and no gaps while entries arrive.
 */
export function encodeCursor(seq: number): string {
  return Buffer.from(`a1:${seq}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const match = /^a1:(\d{1,16})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match?.[1] === undefined) throw badField('cursor', 'is not a cursor returned by this API');
  return Number(match[1]);
}

export function listPage(
  db: Db,
  workspaceId: string,
  filter: AuditFilter,
  page: PageRequest,
): Promise<PageOf<AuditLogTable>> {
  return paginate(filtered(db, workspaceId, filter), (q) => q.selectAll().orderBy('seq', 'desc'), page);
}

export async function listAfterCursor(
  db: Db,
  workspaceId: string,
  filter: AuditFilter,
  cursor: string | undefined,
  limit: number,
): Promise<{ rows: AuditLogTable[]; nextCursor: string | null }> {
  let query = filtered(db, workspaceId, filter);
  if (cursor !== undefined) query = query.where('seq', '<', decodeCursor(cursor));
  const rows = await query
    .selectAll()
    .orderBy('seq', 'desc')
    .limit(limit + 1)
    .execute();
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { rows: pageRows, nextCursor: more && last ? encodeCursor(Number(last.seq)) : null };
}

/** Every matching entry, oldest first, in batches: constant memory at any size. */
export async function* walkAscending(
  db: Db,
  workspaceId: string,
  filter: AuditFilter,
  batchSize = 1000,
): AsyncGenerator<AuditLogTable> {
  let after = 0;
  for (;;) {
    const rows = await filtered(db, workspaceId, filter)
      .selectAll()
      .where('seq', '>', after)
      .orderBy('seq', 'asc')
      .limit(batchSize)
      .execute();
    yield* rows;
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < batchSize) return;
    after = Number(last.seq);
  }
}
