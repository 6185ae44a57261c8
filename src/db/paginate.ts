import { type SelectQueryBuilder, sql } from 'kysely';

/** Which page of a list to read: 1-based. */
export interface PageRequest {
  page: number;
  perPage: number;
}

export interface PageOf<T> {
  rows: T[];
  /** Rows matching the filter in all (`meta.total`). */
  total: number;
}

/** How many rows a filtered list has in all. */
export async function countRows<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
): Promise<number> {
  const row = await query.select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
  return Number((row as unknown as { n: number | string }).n);
}

/**
 * One page of `filtered` and the count of all its rows, read side by side. `select` adds the
 * columns and the (total, stable) order; the filter itself is shared by both reads.
 */
export async function paginate<DB, TB extends keyof DB, O, R>(
  filtered: SelectQueryBuilder<DB, TB, O>,
  select: (query: SelectQueryBuilder<DB, TB, O>) => SelectQueryBuilder<DB, TB, R>,
  { page, perPage }: PageRequest,
): Promise<PageOf<R>> {
  const [rows, total] = await Promise.all([
    select(filtered)
      .limit(perPage)
      .offset((page - 1) * perPage)
      .execute(),
    countRows(filtered),
  ]);
  return { rows, total };
}
