import type { Clock } from '../clock.js';
import type { Db } from '../db/schema.js';

/** The `ratelimit` of a verify answer: `reset` is the end of the current window in Unix seconds. */
export interface TokenRateState {
  limit: number;
  remaining: number;
  reset: number;
}

interface Window {
  start: number;
  lengthMs: number;
  /** Every node's hits as of the last sync. */
  synced: number;
  /** This node's hits not yet added to the shared count. */
  pending: number;
  /** This node's hits being added by a sync now: counted until the shared count read back has them. */
  sending: number;
}

/**
 * Per-token rate limits (docs/tokens.md#rate-limit): fixed windows of the token's own length,
 * counted in memory (a verify never writes for them), so they are exact on one node. With a shared
 * database, `sync()` (every second) adds this node's hits to the shared count and reads back every
 * node's total; the overshoot across nodes is bounded by what the other nodes admit in between.
 */
export interface TokenRateLimiter {
  /** Counts one hit against the token's window: whether it is within the limit, and the state after. */
  hit(tokenId: string, limit: number, windowSeconds: number): { allowed: boolean; state: TokenRateState };
  /** The state without counting (answers that never reach the rate check still report it). */
  peek(tokenId: string, limit: number, windowSeconds: number): TokenRateState;
  sync(): Promise<void>;
}

const used = (window: Window) => window.synced + window.sending + window.pending;

export function createTokenRateLimiter({ db, clock }: { db: Db | null; clock: Clock }): TokenRateLimiter {
  const windows = new Map<string, Window>();
  const current = (tokenId: string, windowSeconds: number): Window => {
    const now = clock();
    const lengthMs = windowSeconds * 1000;
    const start = now - (now % lengthMs);
    let window = windows.get(tokenId);
    if (window === undefined || window.start !== start || window.lengthMs !== lengthMs) {
      window = { start, lengthMs, synced: 0, pending: 0, sending: 0 };
      windows.set(tokenId, window);
    }
    return window;
  };
  const stateOf = (window: Window, limit: number): TokenRateState => ({
    limit,
    remaining: Math.max(0, limit - used(window)),
    reset: Math.ceil((window.start + window.lengthMs) / 1000),
  });
  return {
    hit(tokenId, limit, windowSeconds) {
      const window = current(tokenId, windowSeconds);
      // A refused hit is not counted: a client hammering past its limit does not extend its wait.
      if (used(window) >= limit) return { allowed: false, state: stateOf(window, limit) };
      window.pending += 1;
      return { allowed: true, state: stateOf(window, limit) };
    },
    peek(tokenId, limit, windowSeconds) {
      return stateOf(current(tokenId, windowSeconds), limit);
    },
    async sync() {
      const now = clock();
      for (const [tokenId, window] of windows) {
        const end = window.start + window.lengthMs;
        if (end <= now) {
          windows.delete(tokenId);
          continue;
        }
        if (db === null) continue;
        const delta = window.pending;
        window.pending = 0;
        window.sending = delta;
        // `window_start` holds the window's end here: the API limiter purges rows whose
        // window_start has passed, and a token's window may be far longer than its minute.
        const row = await db
          .insertInto('rate_limits')
          .values({
            key: `token-rate:${tokenId}:${window.start}:${window.lengthMs}`,
            window_start: end,
            count: delta,
          })
          .onConflict((oc) =>
            oc.column('key').doUpdateSet((eb) => ({ count: eb('rate_limits.count', '+', delta) })),
          )
          .returning('count')
          .executeTakeFirstOrThrow()
          .catch((error: unknown) => {
            window.sending = 0;
            window.pending += delta; // sent again at the next sync
            throw error;
          });
        window.sending = 0;
        window.synced = Number(row.count);
      }
    },
  };
}
