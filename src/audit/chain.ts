import { createHash } from 'node:crypto';
import type { Actor } from '../auth/principal.js';
import { canonicalJson } from '../canonical-json.js';
import type { AuditChanges } from '../db/json.js';

/** The tamper-evident hash chain (docs/audit.md#hash-chain). */

export const GENESIS_HASH = '0'.repeat(64);

export interface ChainedFields {
  id: string;
  event: string;
  created_at: string;
  actor: Actor;
  target: { type: string | null; id: string; name: string | null } | null;
  changes: AuditChanges | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

/**
 * SHA-256 of the UTF-8 bytes of `prevHash + "\n" + canonical JSON`. The recorder stores only
 * well-formed text, so these are the bytes of the entry as stored and as read back on either database.
 */
export function chainHash(prevHash: string, entry: ChainedFields): string {
  const body = canonicalJson([
    entry.id,
    entry.event,
    entry.created_at,
    entry.actor,
    entry.target,
    entry.changes,
    entry.ip,
    entry.user_agent,
    entry.request_id,
  ]);
  return createHash('sha256')
    .update(Buffer.from(`${prevHash}\n${body}`, 'utf8'))
    .digest('hex');
}
