import { type CacheSize, createInvalidatingCache, type InvalidatingCache } from '../cluster/cache.js';

/** What verification needs to know about a secret, cached in-process by its digest. */
export interface CachedToken {
  id: string;
  workspaceId: string;
  name: string;
  scopes: string[];
  metadata: Record<string, unknown>;
  expiresAt: number | null;
  revokedAt: number | null;
  /** When this particular secret stops working (rotation grace), or null while current. */
  retiresAt: number | null;
  externalId: string | null;
  /** Has a uses limit: every answer reads (and a VALID one takes) its budget from the database. */
  usesLimited: boolean;
  /** Its own rate limit, or null. */
  rate: { limit: number; windowSeconds: number } | null;
}

/**
 * Keyed by SHA-256 digest. Revoke, rotate and create invalidate entries on every node; expiry and
 * grace ends are computed from the clock at each check, so they need no invalidation.
 */
export type TokenCache = InvalidatingCache<CachedToken>;

export const createTokenCache = (options: CacheSize & { ttlMs: number }): TokenCache =>
  createInvalidatingCache<CachedToken>(options);
