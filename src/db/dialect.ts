import type { DialectName } from './database.js';

/** The few places where SQLite and PostgreSQL differ, each named. */

/** True when `error` is a unique or primary-key violation on either database. */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Row claims (SPEC §9.5): on PostgreSQL the candidate rows are locked with
 * `FOR UPDATE SKIP LOCKED`, so concurrent claimers take disjoint rows; SQLite has a single writer
 * and needs no lock clause (it has none).
 */
export function lockForClaim<QB extends { forUpdate(): { skipLocked(): QB } }>(
  qb: QB,
  dialect: DialectName,
): QB {
  return dialect === 'postgres' ? qb.forUpdate().skipLocked() : qb;
}
