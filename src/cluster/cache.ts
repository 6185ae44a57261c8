import { LRUCache } from 'lru-cache';

/**
 * A bounded in-process cache of hits and remembered misses (`null`), invalidated by key on every
 * node through the notifier. The TTL is only the backstop for a lost notification.
 *
 * Misses live in their own, smaller LRU: anyone can present unknown secrets (a forged one with a
 * valid checksum costs one lookup), and were misses kept with hits, a flood of them would push
 * every real entry out and send each real request back to the database.
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

/** How many entries a cache keeps: found values, and remembered misses. */
export interface CacheSize {
  hits: number;
  misses: number;
}

export function createInvalidatingCache<V>({
  hits: maxHits,
  misses: maxMisses,
  ttlMs,
}: CacheSize & {
  ttlMs: number;
}): InvalidatingCache<V> {
  // lru-cache stores no undefined or null, so a value is wrapped; a miss is remembered as `true`.
  const found = new LRUCache<string, { value: V }>({ max: maxHits, ttl: ttlMs, ttlAutopurge: false });
  const absent = new LRUCache<string, true>({ max: maxMisses, ttl: ttlMs, ttlAutopurge: false });
  let gen = 0;
  let hits = 0;
  let misses = 0;
  return {
    get(key) {
      const entry = found.get(key);
      if (entry !== undefined) {
        hits += 1;
        return entry.value;
      }
      if (absent.get(key) !== undefined) {
        hits += 1;
        return null;
      }
      misses += 1;
      return undefined;
    },
    generation: () => gen,
    set(key, value, generation) {
      if (generation !== gen) return;
      if (value === null) {
        found.delete(key);
        absent.set(key, true);
      } else {
        absent.delete(key);
        found.set(key, { value });
      }
    },
    invalidate(keys) {
      gen += 1;
      for (const key of keys) {
        found.delete(key);
        absent.delete(key);
      }
    },
    clear() {
      gen += 1;
      found.clear();
      absent.clear();
    },
    stats: () => ({ hits, misses, size: found.size + absent.size }),
  };
}
