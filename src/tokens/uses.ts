import { sql } from 'kysely';
import type { Clock } from '../clock.js';
import type { Db } from '../db/schema.js';
import { type RefillInterval, refillPeriod } from './limits.js';

/**
 * A token's budget of uses (docs/tokens.md#uses-limit). A use is taken by one atomic conditional
 * update, the only write a verification makes and only for tokens with such a limit: the database
 * serialises concurrent takers on the row, so the budget is never overdrawn, on any number of nodes.
 */
export interface TokenUses {
  /** Takes one use: the uses left after it, or null when none was left. */
  take(tokenId: string): Promise<number | null>;
  /** The uses left now (for answers that take none). */
  left(tokenId: string): Promise<number>;
}

export function createTokenUses(db: Db): TokenUses {
  return {
    async take(tokenId) {
      const row = await db
        .updateTable('tokens')
        .set({ uses_remaining: sql`uses_remaining - 1` })
        .where('id', '=', tokenId)
        .where('uses_remaining', '>', 0)
        .returning('uses_remaining')
        .executeTakeFirst();
      return row === undefined ? null : Number(row.uses_remaining);
    },
    async left(tokenId) {
      const row = await db
        .selectFrom('tokens')
        .select('uses_remaining')
        .where('id', '=', tokenId)
        .executeTakeFirst();
      return Number(row?.uses_remaining ?? 0);
    },
  };
}

/**
 * The refill job: sets `remaining` to the refill amount once per UTC day or month. Each token
 * records the period it was last refilled in, and the update is conditional on it, so two runners
 * (or two nodes) refill a token exactly once per period. Revoked tokens are left alone.
 */
export function createUsesRefill({ db, clock }: { db: Db; clock: Clock }) {
  return async (): Promise<number> => {
    const now = clock();
    let refilled = 0;
    for (const interval of ['day', 'month'] as RefillInterval[]) {
      const period = refillPeriod(interval, now);
      const result = await db
        .updateTable('tokens')
        .set((eb) => ({ uses_remaining: eb.ref('uses_refill_amount'), uses_refill_period: period }))
        .where('uses_refill_interval', '=', interval)
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('uses_refill_period', 'is', null), eb('uses_refill_period', '<', period)]))
        .executeTakeFirst();
      refilled += Number(result.numUpdatedRows);
    }
    return refilled;
  };
}
