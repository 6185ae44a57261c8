/**
 * Times in the workspace's timezone. The audit log is read to the second, so its times carry
 * seconds; a date range picked in the dashboard means whole days in the workspace's timezone.
 */

function formatter(timeZone: string): Intl.DateTimeFormat {
  try {
    return new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'medium', timeZone });
  } catch {
    return new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'medium', timeZone: 'UTC' });
  }
}

/** `15 Jan 2026, 14:30:05` in the given timezone; `none` when there is no time. */
export function formatInstant(iso: string | null | undefined, timeZone: string, none = '—'): string {
  if (!iso) return none;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : formatter(timeZone).format(date);
}

/** The zone's offset from UTC at an instant, in milliseconds (Tokyo: +9 h). */
function offsetAt(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(ms));
  const part = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(
    part('year'),
    part('month') - 1,
    part('day'),
    part('hour'),
    part('minute'),
    part('second'),
  );
  return wall - Math.floor(ms / 1000) * 1000;
}

/** The instant a calendar day (`2026-01-15`) begins in the zone, as an ISO string. */
export function startOfDay(day: string, timeZone: string): string {
  const [y, m, d] = day.split('-').map(Number);
  const midnightUtc = Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1);
  let zone = timeZone;
  try {
    offsetAt(midnightUtc, zone);
  } catch {
    zone = 'UTC';
  }
  const first = midnightUtc - offsetAt(midnightUtc, zone);
  // Near a daylight-saving change the offset at the guess may differ from the one at midnight.
  const settled = midnightUtc - offsetAt(first, zone);
  return new Date(settled).toISOString();
}

/** The day after a calendar day, as `YYYY-MM-DD`. */
export function nextDay(day: string): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + 1)).toISOString().slice(0, 10);
}

/** An inclusive range of days in the zone as the API's bounds: `from` inclusive, `to` exclusive. */
export function dayRange(from: string, to: string, timeZone: string): { from?: string; to?: string } {
  return {
    ...(from ? { from: startOfDay(from, timeZone) } : {}),
    ...(to ? { to: startOfDay(nextDay(to), timeZone) } : {}),
  };
}
