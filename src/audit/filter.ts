import { badField } from '../errors.js';
import type { AuditFilter } from './query.js';

const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(T([01]\d|2[0-3]):\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** Whether a calendar date exists (`Date.parse` rolls 2026-02-30 over into March). */
function realDate(match: RegExpExecArray): boolean {
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(0);
  date.setUTCFullYear(y, m - 1, d);
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** A `from`/`to` bound: a date (midnight UTC) or an ISO 8601 instant (422 otherwise). */
function instant(field: 'from' | 'to', value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = ISO_INSTANT.exec(value);
  const ms = match !== null && realDate(match) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw badField(
      field,
      'must be a date (2026-01-15) or an ISO 8601 instant (2026-01-15T09:00:00Z)',
      'unprocessable_entity',
    );
  return ms;
}

/** The filter of an audit query string. */
export function filterOf(query: {
  from?: string | undefined;
  to?: string | undefined;
  event?: string[] | undefined;
  actor_id?: string | undefined;
  target_id?: string | undefined;
}): AuditFilter {
  return {
    from: instant('from', query.from),
    to: instant('to', query.to),
    events: query.event,
    actorId: query.actor_id,
    targetId: query.target_id,
  };
}
