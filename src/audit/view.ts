import type { Actor } from '../auth/principal.js';
import type { AuditLogTable } from '../db/schema.js';
import { type Changes, chainedFields, type Target } from './service.js';

export interface AuditEntryView {
  id: string;
  event: string;
  created_at: string;
  created_at_local: string;
  actor: Actor;
  target: (Omit<Target, 'type'> & { type: string | null }) | null;
  changes: Changes | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  hash: string;
  prev_hash: string;
}

/** An audit entry as the API shows it (docs/audit.md#entries). */
export function auditEntryView(row: AuditLogTable, local: (ms: number) => string): AuditEntryView {
  const fields = chainedFields(row);
  return {
    ...fields,
    created_at_local: local(row.created_at),
    hash: row.hash,
    prev_hash: row.prev_hash,
  };
}
