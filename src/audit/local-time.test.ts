import { describe, expect, it } from 'vitest';
import { localTimeFormatter } from './local-time.js';

describe('local time with offset', () => {
  const at = Date.parse('2026-01-15T09:00:00.123Z');

  it('renders UTC with +00:00', () => {
    expect(localTimeFormatter('UTC')(at)).toBe('2026-01-15T09:00:00.123+00:00');
  });

  it('renders half-hour and negative offsets', () => {
    expect(localTimeFormatter('Asia/Kolkata')(at)).toBe('2026-01-15T14:30:00.123+05:30');
    expect(localTimeFormatter('America/New_York')(at)).toBe('2026-01-15T04:00:00.123-05:00');
  });

  it('follows daylight saving time', () => {
    expect(localTimeFormatter('Europe/Berlin')(Date.parse('2026-07-01T12:00:00.000Z'))).toBe(
      '2026-07-01T14:00:00.000+02:00',
    );
    expect(localTimeFormatter('Europe/Berlin')(at)).toBe('2026-01-15T10:00:00.123+01:00');
  });

  it('crosses midnight into the next local day', () => {
    expect(localTimeFormatter('Pacific/Auckland')(Date.parse('2026-01-15T23:30:00.000Z'))).toBe(
      '2026-01-16T12:30:00.000+13:00',
    );
  });
});

describe('local time across transitions', () => {
  /** The same rendering without any shortcut: Intl's wall clock, offset from the difference. */
  function reference(timeZone: string, ms: number): string {
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      })
        .formatToParts(new Date(ms))
        .map((p) => [p.type, p.value]),
    );
    const millis = String(((ms % 1000) + 1000) % 1000).padStart(3, '0');
    const n = (type: string) => Number(parts[type] ?? Number.NaN);
    const wall = Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second'));
    const offset = Math.round((wall - (ms - (((ms % 1000) + 1000) % 1000))) / 60_000);
    const abs = Math.abs(offset);
    const hhmm = `${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
    return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}.${millis}${offset < 0 ? '-' : '+'}${hhmm}`;
  }

  it('switches offset at the exact millisecond of a DST change', () => {
    const berlin = localTimeFormatter('Europe/Berlin');
    expect(berlin(Date.parse('2026-03-29T00:59:59.999Z'))).toBe('2026-03-29T01:59:59.999+01:00');
    expect(berlin(Date.parse('2026-03-29T01:00:00.000Z'))).toBe('2026-03-29T03:00:00.000+02:00');
    expect(berlin(Date.parse('2026-10-25T00:59:59.999Z'))).toBe('2026-10-25T02:59:59.999+02:00');
    expect(berlin(Date.parse('2026-10-25T01:00:00.000Z'))).toBe('2026-10-25T02:00:00.000+01:00');
  });

  it('agrees with Intl minute by minute around transitions, odd offsets and old dates', () => {
    const cases: [string, string][] = [
      ['Europe/Berlin', '2026-03-29T00:00:00Z'],
      ['America/New_York', '2026-11-01T05:00:00Z'],
      ['Australia/Lord_Howe', '2026-04-04T14:00:00Z'], // a 30-minute DST shift
      ['Asia/Kathmandu', '2026-01-15T00:00:00Z'], // +05:45
      ['America/St_Johns', '2026-03-08T05:00:00Z'],
      ['Europe/Amsterdam', '1937-06-30T22:00:00Z'], // +00:19:32 until 1937, then +00:20
      ['Asia/Kolkata', '1900-01-01T00:00:00Z'],
    ];
    for (const [zone, around] of cases) {
      const format = localTimeFormatter(zone);
      const start = Date.parse(around) - 3 * 3_600_000;
      for (let ms = start; ms < start + 6 * 3_600_000; ms += 59_999) {
        expect(format(ms), `${zone} ${new Date(ms).toISOString()}`).toBe(reference(zone, ms));
      }
    }
  });
});
