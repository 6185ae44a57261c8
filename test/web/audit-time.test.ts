import { describe, expect, it } from 'vitest';
import { dayRange, formatInstant, nextDay, startOfDay } from '../../web/src/settings/audit/time.js';

describe('dashboard audit log: days in the workspace timezone', () => {
  it('finds the instant a day begins in zones ahead of, behind and at UTC, with half-hour offsets', () => {
    expect(startOfDay('2026-01-15', 'UTC')).toBe('2026-01-15T00:00:00.000Z');
    expect(startOfDay('2026-01-15', 'Asia/Tokyo')).toBe('2026-01-14T15:00:00.000Z');
    expect(startOfDay('2026-01-15', 'Asia/Kolkata')).toBe('2026-01-14T18:30:00.000Z');
    expect(startOfDay('2026-01-15', 'America/Los_Angeles')).toBe('2026-01-15T08:00:00.000Z');
    expect(startOfDay('2026-07-15', 'America/Los_Angeles')).toBe('2026-07-15T07:00:00.000Z');
  });

  it('handles the days clocks change (the offset at midnight, not the one at the guess)', () => {
    // New York springs forward on 2026-03-08 at 02:00 and falls back on 2026-11-01 at 02:00.
    expect(startOfDay('2026-03-08', 'America/New_York')).toBe('2026-03-08T05:00:00.000Z');
    expect(startOfDay('2026-03-09', 'America/New_York')).toBe('2026-03-09T04:00:00.000Z');
    expect(startOfDay('2026-11-01', 'America/New_York')).toBe('2026-11-01T04:00:00.000Z');
    expect(startOfDay('2026-11-02', 'America/New_York')).toBe('2026-11-02T05:00:00.000Z');
    // Berlin's change is at 01:00 UTC: midnight is on the old offset on both change days.
    expect(startOfDay('2026-03-29', 'Europe/Berlin')).toBe('2026-03-28T23:00:00.000Z');
    expect(startOfDay('2026-10-25', 'Europe/Berlin')).toBe('2026-10-24T22:00:00.000Z');
  });

  it('falls back to UTC for a zone the browser does not know', () => {
    expect(startOfDay('2026-01-15', 'Mars/Olympus')).toBe('2026-01-15T00:00:00.000Z');
    expect(formatInstant('2026-01-15T09:00:00Z', 'Mars/Olympus')).toBe('15 Jan 2026, 09:00:00');
  });

  it('turns an inclusive range of days into from (inclusive) and to (exclusive)', () => {
    expect(nextDay('2026-02-28')).toBe('2026-03-01');
    expect(nextDay('2026-12-31')).toBe('2027-01-01');
    expect(dayRange('2026-01-15', '2026-01-15', 'Asia/Tokyo')).toEqual({
      from: '2026-01-14T15:00:00.000Z',
      to: '2026-01-15T15:00:00.000Z',
    });
    expect(dayRange('', '2026-01-15', 'UTC')).toEqual({ to: '2026-01-16T00:00:00.000Z' });
    expect(dayRange('', '', 'UTC')).toEqual({});
  });

  it('shows an instant in the zone, to the second', () => {
    expect(formatInstant('2026-01-15T09:00:05Z', 'Asia/Tokyo')).toBe('15 Jan 2026, 18:00:05');
    expect(formatInstant(null, 'UTC', 'Never')).toBe('Never');
  });
});
