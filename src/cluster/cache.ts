import { LRUCache } from 'lru-cache';

/**
 * A bounded in-process cache of hits and remembered misses (`null`), invalidated by key on every
 * node through the notifier. The TTL is only the backstop for a lost notification.
 */
export interface InvalidatingCache<V> {
  get(key: string): V | null | undefined;
  /** The invalidation generation to pass back to `set` after a database read. */
  generation(): number;
  /** Stores unless an invalidation happened since `generation` was taken (the read may be stale). */
  set(key: string, value: V | null, generation: number): void;
  invalidate(keys: readonly string[]): void;
  clear(): void;
  stats(): { hits: number; misses: number; size: number };
}

export function createInvalidatingCache<V>({
  max,
  ttlMs,
}: {
  max: number;
  ttlMs: number;
}): InvalidatingCache<V> {
  const lru = new LRUCache<string, { value: V | null }>({ max, ttl: ttlMs, ttlAutopurge: false });
  let gen = 0;
  let hits = 0;
  let misses = 0;
  return {
    get(key) {
      const entry = lru.get(key);
      if (entry === undefined) {
        misses += 1;
        return undefined;
      }
      hits += 1;
      return entry.value;
    },
    generation: () => gen,
    set(key, value, generation) {
      if (generation === gen) lru.set(key, { value });
    },
    invalidate(keys) {
      gen += 1;
      for (const key of keys) lru.delete(key);
    },
    clear() {
      gen += 1;
      lru.clear();
    },
    stats: () => ({ hits, misses, size: lru.size }),
  };
}
