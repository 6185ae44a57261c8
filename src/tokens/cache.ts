import { type CacheSize, createInvalidatingCache, type InvalidatingCache } from '../cluster/cache.js';

/** What verification needs to know about a secret, cached in-process by its digest. */
/** The token as a verify answer names it (docs/tokens.md#verify). */
export interface VerifiedToken {
  id: string;
  name: string;
  scopes: string[];
  expires_at: string | null;
  metadata: Record<string, unknown>;
  external_id: string | null;
}

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
  /** Its part of every answer, built once when read (frozen: answers share it). */
  view: Readonly<VerifiedToken>;
}

/**
 * Keyed by SHA-256 digest. Revoke, rotate and create invalidate entries on every node; expiry and
 * grace ends are computed from the clock at each check, so they need no invalidation.
 */
export type TokenCache = InvalidatingCache<CachedToken>;

export const createTokenCache = (options: CacheSize & { ttlMs: number }): TokenCache =>
  createInvalidatingCache<CachedToken>(options);
