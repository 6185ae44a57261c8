import { describe, expect, it } from 'vitest';
import { limitColumns, limitsView, refillPeriod } from './limits.js';

const NOW = Date.parse('2026-03-31T23:59:59.999Z');
const none = {
  uses_remaining: null,
  uses_refill_amount: null,
  uses_refill_interval: null,
  uses_refill_period: null,
  rate_limit: null,
  rate_window_seconds: null,
};

describe('token limits', () => {
  it('names the UTC day or month an instant falls in', () => {
    expect(refillPeriod('day', NOW)).toBe('2026-03-31');
    expect(refillPeriod('month', NOW)).toBe('2026-03');
    expect(refillPeriod('day', NOW + 1)).toBe('2026-04-01');
    expect(refillPeriod('month', NOW + 1)).toBe('2026-04');
    // Periods of one interval sort as their instants do, which the conditional refill relies on.
    expect(
      refillPeriod('day', Date.parse('2026-12-31T00:00:00Z')) <
        refillPeriod('day', Date.parse('2027-01-01T00:00:00Z')),
    ).toBe(true);
  });

  it('stores a budget with its refill starting from the current period, and a rate', () => {
    const columns = limitColumns(
      {
        uses: { remaining: 5, refill: { amount: 10, interval: 'month' } },
        rate: { limit: 3, window_seconds: 60 },
      },
      null,
      NOW,
    );
    expect(columns).toEqual({
      uses_remaining: 5,
      uses_refill_amount: 10,
      uses_refill_interval: 'month',
      uses_refill_period: '2026-03',
      rate_limit: 3,
      rate_window_seconds: 60,
    });
    expect(limitsView(columns)).toEqual({
      uses: { remaining: 5, refill: { amount: 10, interval: 'month' } },
      rate: { limit: 3, window_seconds: 60 },
    });
  });

  it('keeps what is left out, removes what is null, and removes everything with null', () => {
    const current = { ...none, uses_remaining: 2, rate_limit: 9, rate_window_seconds: 10, name: 'ignored' };
    expect(limitColumns(undefined, current, NOW)).toEqual({
      ...none,
      uses_remaining: 2,
      rate_limit: 9,
      rate_window_seconds: 10,
    });
    expect(limitColumns({ rate: null }, current, NOW)).toEqual({ ...none, uses_remaining: 2 });
    expect(limitColumns({ uses: null }, current, NOW)).toEqual({
      ...none,
      rate_limit: 9,
      rate_window_seconds: 10,
    });
    expect(limitColumns(null, current, NOW)).toEqual(none);
    expect(limitsView(none)).toEqual({ uses: null, rate: null });
  });
});
