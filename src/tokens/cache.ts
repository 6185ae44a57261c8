import { LRUCache } from 'lru-cache';

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
}

/** A hit or a remembered miss (`null`), so that unknown secrets do not reach the database either. */
type Entry = { token: CachedToken | null };

export interface TokenCache {
  get(digest: string): CachedToken | null | undefined;
  /** The invalidation generation to pass back to `set` after a database read. */
  generation(): number;
  /** Stores unless an invalidation happened since `generation` was taken (the read may be stale). */
  set(digest: string, token: CachedToken | null, generation: number): void;
  invalidate(digests: readonly string[]): void;
  clear(): void;
  stats(): { hits: number; misses: number; size: number };
}

/**
 * Bounded LRU keyed by SHA-256 digest. Revoke, rotate and create invalidate entries on every node
 * (see cluster/notifier.ts); expiry and grace ends are computed from the clock at each check, so
 * they need no invalidation. The TTL is only the backstop for a lost notification.
 */
export function createTokenCache({ max, ttlMs }: { max: number; ttlMs: number }): TokenCache {
  const lru = new LRUCache<string, Entry>({ max, ttl: ttlMs, ttlAutopurge: false });
  let gen = 0;
  let hits = 0;
  let misses = 0;
  return {
    get(digest) {
      const entry = lru.get(digest);
      if (entry === undefined) {
        misses += 1;
        return undefined;
      }
      hits += 1;
      return entry.token;
    },
    generation: () => gen,
    set(digest, token, generation) {
      if (generation === gen) lru.set(digest, { token });
    },
    invalidate(digests) {
      gen += 1;
      for (const digest of digests) lru.delete(digest);
    },
    clear() {
      gen += 1;
      lru.clear();
    },
    stats: () => ({ hits, misses, size: lru.size }),
  };
}
