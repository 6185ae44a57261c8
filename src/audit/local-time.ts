/**
 * Renders instants in a workspace's timezone with a numeric offset
 * (`2026-01-15T14:30:00.000+05:30`, `+00:00` for UTC). Make one per request or export: the
 * underlying Intl formatter is costly to build and cheap to reuse.
 */
export function localTimeFormatter(timeZone: string): (ms: number) => string {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const suffix = (offsetMinutes: number) => {
    const abs = Math.abs(offsetMinutes);
    return `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  };
  /** The zone's offset at an instant, in ms (wall clock minus UTC). */
  const offsetAt = (ms: number): number => {
    const parts: Record<string, number> = {};
    for (const part of format.formatToParts(new Date(ms))) {
      if (part.type !== 'literal') parts[part.type] = Number(part.value);
    }
    const wall = Date.UTC(
      parts.year ?? 1970,
      (parts.month ?? 1) - 1,
      parts.day ?? 1,
      parts.hour ?? 0,
      parts.minute ?? 0,
      parts.second ?? 0,
    );
    return wall - (ms - (((ms % 1000) + 1000) % 1000));
  };
  // Formatting parts costs microseconds, too much for an export of millions of rows. Offsets only
  // change at transitions, which fall on quarter hours: per 15-minute span whose two ends share a
  // whole-minute offset, the offset is computed once and the wall clock is plain arithmetic.
  const SPAN = 15 * 60_000;
  const spans = new Map<number, number | null>();
  const fast = (ms: number): string | null => {
    const span = Math.floor(ms / SPAN);
    let offset = spans.get(span);
    if (offset === undefined) {
      const first = offsetAt(span * SPAN);
      offset = first === offsetAt(span * SPAN + SPAN - 1) && first % 60_000 === 0 ? first : null;
      if (spans.size >= 4096) spans.clear();
      spans.set(span, offset);
    }
    if (offset === null) return null;
    const wall = new Date(ms + offset).toISOString();
    return wall.length === 24 ? `${wall.slice(0, 23)}${suffix(offset / 60_000)}` : null;
  };
  return (ms) => {
    const quick = fast(ms);
    if (quick !== null) return quick;
    const parts: Record<string, number> = {};
    for (const part of format.formatToParts(new Date(ms))) {
      if (part.type !== 'literal') parts[part.type] = Number(part.value);
    }
    const millis = ((ms % 1000) + 1000) % 1000;
    const wall = Date.UTC(
      parts.year ?? 1970,
      (parts.month ?? 1) - 1,
      parts.day ?? 1,
      parts.hour ?? 0,
      parts.minute ?? 0,
      parts.second ?? 0,
      millis,
    );
    const offsetMinutes = Math.round((wall - ms) / 60_000);
    const date = `${pad(parts.year ?? 1970, 4)}-${pad(parts.month ?? 1)}-${pad(parts.day ?? 1)}`;
    const time = `${pad(parts.hour ?? 0)}:${pad(parts.minute ?? 0)}:${pad(parts.second ?? 0)}.${pad(millis, 3)}`;
    return `${date}T${time}${suffix(offsetMinutes)}`;
  };
}
