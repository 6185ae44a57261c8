import type { Clock } from '../clock.js';
import type { Db } from '../db/schema.js';

export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix seconds at which the current window ends. */
  reset: number;
  /** Seconds to wait before retrying, when not allowed. */
  retryAfter: number;
}

export interface RateLimiter {
  hit(bucket: string, limit: number): Promise<RateLimitResult>;
}

const WINDOW_MS = 60_000;

/**
 * Fixed one-minute windows counted in the database with an atomic upsert, so every node of a
 * cluster draws from the same budget (docs/api.md#rate-limits). Old windows are purged about once a minute.
 */
export function createDbRateLimiter({ db, clock }: { db: Db; clock: Clock }): RateLimiter {
  let nextPurge = 0;
  return {
    async hit(bucket, limit) {
      const now = clock();
      const windowStart = now - (now % WINDOW_MS);
      if (now >= nextPurge) {
        nextPurge = now + WINDOW_MS;
        await db.deleteFrom('rate_limits').where('window_start', '<', windowStart).execute();
      }
      const row = await db
        .insertInto('rate_limits')
        .values({ key: `${bucket}:${windowStart}`, window_start: windowStart, count: 1 })
        .onConflict((oc) =>
          oc.column('key').doUpdateSet((eb) => ({ count: eb('rate_limits.count', '+', 1) })),
        )
        .returning('count')
        .executeTakeFirstOrThrow();
      const count = Number(row.count);
      const resetMs = windowStart + WINDOW_MS;
      return {
        allowed: count <= limit,
        limit,
        remaining: Math.max(0, limit - count),
        reset: Math.ceil(resetMs / 1000),
        retryAfter: Math.max(1, Math.ceil((resetMs - now) / 1000)),
      };
    },
  };
}
