import type { Clock } from '../clock.js';
import type { Db } from '../db/schema.js';
import type { RateLimitResult } from './limiter.js';

const WINDOW_MS = 60_000;

interface Bucket {
  windowStart: number;
  /** The shared count as of the last sync (every node's flushed hits). */
  synced: number;
  /** This node's hits not yet added to the shared count. */
  pending: number;
}

/**
 * The verification budget (docs/api.md#rate-limits, docs/tokens.md#verify): counted in memory so that verifying never writes to the
 * database on the request path. With a shared database, `sync()` (run every second) adds this
 * node's hits to the shared row and reads back every node's total.
 */
export interface LocalRateLimiter {
  hit(bucket: string, limit: number): RateLimitResult;
  sync(): Promise<void>;
}

export function createLocalRateLimiter({ db, clock }: { db: Db | null; clock: Clock }): LocalRateLimiter {
  const buckets = new Map<string, Bucket>();
  return {
    hit(name, limit) {
      const now = clock();
      const windowStart = now - (now % WINDOW_MS);
      let bucket = buckets.get(name);
      if (bucket === undefined || bucket.windowStart !== windowStart) {
        bucket = { windowStart, synced: 0, pending: 0 };
        buckets.set(name, bucket);
      }
      bucket.pending += 1;
      const used = bucket.synced + bucket.pending;
      const resetMs = windowStart + WINDOW_MS;
      return {
        allowed: used <= limit,
        limit,
        remaining: Math.max(0, limit - used),
        reset: Math.ceil(resetMs / 1000),
        retryAfter: Math.max(1, Math.ceil((resetMs - now) / 1000)),
      };
    },
    async sync() {
      const now = clock();
      for (const [name, bucket] of buckets) {
        if (bucket.windowStart + WINDOW_MS <= now) {
          buckets.delete(name);
          continue;
        }
        if (db === null || bucket.pending === 0) continue;
        const delta = bucket.pending;
        bucket.pending = 0;
        const row = await db
          .insertInto('rate_limits')
          .values({ key: `${name}:${bucket.windowStart}`, window_start: bucket.windowStart, count: delta })
          .onConflict((oc) =>
            oc.column('key').doUpdateSet((eb) => ({ count: eb('rate_limits.count', '+', delta) })),
          )
          .returning('count')
          .executeTakeFirstOrThrow();
        bucket.synced = Number(row.count);
      }
    },
  };
}
