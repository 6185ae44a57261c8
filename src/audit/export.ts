import { iso } from '../clock.js';
import type { Db } from '../db/schema.js';
import { CSV_HEADER, csvRow } from './csv.js';
import { localTimeFormatter } from './local-time.js';
import { type AuditFilter, walkAscending } from './query.js';

const CHUNK_CHARS = 65_536;

/**
 * The CSV export of a workspace's entries, oldest first, as text chunks of about 64 KiB: one
 * stream write per row would cost more than the row itself. Memory stays bounded by one read batch
 * plus one chunk, whatever the log's size.
 */
export async function* auditCsv(
  db: Db,
  workspace: { id: string; timezone: string },
  filter: AuditFilter,
): AsyncGenerator<string> {
  const local = localTimeFormatter(workspace.timezone);
  let chunk = csvRow(CSV_HEADER);
  for await (const row of walkAscending(db, workspace.id, filter)) {
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
    chunk += csvRow([
      row.id,
      iso(row.created_at),
      local(row.created_at),
      row.event,
      row.actor_type,
      row.actor_id,
      row.actor_name,
      row.target_type,
      row.target_id,
      row.target_name,
      row.changes,
      row.ip,
      row.user_agent,
    ]);
  }
  yield chunk;
}

/** `tooken-audit-<slug>-<from>-<to>.csv`, days in UTC, `all` for an open end. */
export function exportFilename(slug: string, filter: AuditFilter): string {
  const day = (ms: number | undefined) => (ms === undefined ? 'all' : iso(ms).slice(0, 10));
  return `tooken-audit-${slug}-${day(filter.from)}-${day(filter.to)}.csv`;
}
