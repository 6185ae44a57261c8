import type { TokensTable } from '../db/schema.js';

/** A token's own limits (docs/tokens.md#limits): a budget of uses, and a rate limit. */

export type RefillInterval = 'day' | 'month';

export interface UsesLimit {
  remaining: number;
  refill: { amount: number; interval: RefillInterval } | null;
}

export interface RateLimit {
  limit: number;
  window_seconds: number;
}

export interface TokenLimits {
  uses: UsesLimit | null;
  rate: RateLimit | null;
}

/** What a caller sends: each part absent (kept, or none on create), null (none) or a value. */
export interface LimitsInput {
  uses?: { remaining: number; refill?: { amount: number; interval: RefillInterval } | null } | null;
  rate?: RateLimit | null;
}

type LimitColumns = Pick<
  TokensTable,
  | 'uses_remaining'
  | 'uses_refill_amount'
  | 'uses_refill_interval'
  | 'uses_refill_period'
  | 'rate_limit'
  | 'rate_window_seconds'
>;

/** The UTC period an instant falls in: `2026-11-30` for daily refills, `2026-11` for monthly ones. */
export function refillPeriod(interval: RefillInterval, now: number): string {
  const day = new Date(now).toISOString().slice(0, 10);
  return interval === 'day' ? day : day.slice(0, 7);
}

/** The columns a token's limits are stored in; `uses` and `rate` left out of `input` keep `current`. */
export function limitColumns(
  input: LimitsInput | null | undefined,
  current: LimitColumns | null,
  now: number,
): LimitColumns {
  const none: LimitColumns = {
    uses_remaining: null,
    uses_refill_amount: null,
    uses_refill_interval: null,
    uses_refill_period: null,
    rate_limit: null,
    rate_window_seconds: null,
  };
  const base: LimitColumns = current === null ? none : pickLimitColumns(current);
  if (input === null) return none;
  const columns = { ...base };
  if (input === undefined) return columns;
  if (input.uses !== undefined) {
    const refill = input.uses?.refill ?? null;
    columns.uses_remaining = input.uses?.remaining ?? null;
    columns.uses_refill_amount = refill?.amount ?? null;
    columns.uses_refill_interval = refill?.interval ?? null;
    // The budget given now holds for the rest of this period; the next one starts the refills.
    columns.uses_refill_period = refill === null ? null : refillPeriod(refill.interval, now);
  }
  if (input.rate !== undefined) {
    columns.rate_limit = input.rate?.limit ?? null;
    columns.rate_window_seconds = input.rate?.window_seconds ?? null;
  }
  return columns;
}

function pickLimitColumns(row: LimitColumns): LimitColumns {
  return {
    uses_remaining: row.uses_remaining,
    uses_refill_amount: row.uses_refill_amount,
    uses_refill_interval: row.uses_refill_interval,
    uses_refill_period: row.uses_refill_period,
    rate_limit: row.rate_limit,
    rate_window_seconds: row.rate_window_seconds,
  };
}

export function limitsView(row: LimitColumns): TokenLimits {
  const uses: UsesLimit | null =
    row.uses_remaining === null
      ? null
      : {
          remaining: Number(row.uses_remaining),
          refill:
            row.uses_refill_amount === null || row.uses_refill_interval === null
              ? null
              : { amount: Number(row.uses_refill_amount), interval: row.uses_refill_interval },
        };
  const rate: RateLimit | null =
    row.rate_limit === null || row.rate_window_seconds === null
      ? null
      : { limit: Number(row.rate_limit), window_seconds: Number(row.rate_window_seconds) };
  return { uses, rate };
}
