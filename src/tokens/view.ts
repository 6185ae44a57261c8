import { isoOrNull } from '../clock.js';
import { decodeMetadata, decodeScopes } from '../db/json.js';
import type { TokensTable } from '../db/schema.js';
import { limitsView, type TokenLimits } from './limits.js';
import { type TokenStatus, tokenStatus } from './status.js';

/** The token object (docs/tokens.md#the-token-object): the one serialiser, so no digest can ever reach a response. */
export interface TokenView {
  id: string;
  name: string;
  scopes: string[];
  status: TokenStatus;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  rotated_at: string | null;
  created_by: string;
  created_by_id: string;
  metadata: Record<string, unknown>;
  hint: string;
  external_id: string | null;
  limits: TokenLimits;
}

export function tokenView(row: TokensTable, now: number): TokenView {
  return {
    id: row.id,
    name: row.name,
    scopes: decodeScopes(row.scopes),
    status: tokenStatus({ revokedAt: row.revoked_at, expiresAt: row.expires_at }, now),
    created_at: new Date(row.created_at).toISOString(),
    expires_at: isoOrNull(row.expires_at),
    last_used_at: isoOrNull(row.last_used_at),
    revoked_at: isoOrNull(row.revoked_at),
    rotated_at: isoOrNull(row.rotated_at),
    created_by: row.created_by,
    created_by_id: row.created_by_id,
    metadata: decodeMetadata(row.metadata),
    hint: row.hint,
    external_id: row.external_id,
    limits: limitsView(row),
  };
}
