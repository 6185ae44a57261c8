import { type SelectQueryBuilder, sql } from 'kysely';

/** How many rows a filtered list has in all (`meta.total` of SPEC §3). */
export async function countRows<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
): Promise<number> {
  const row = await query.select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
  return Number((row as unknown as { n: number | string }).n);
}
