import { sql } from 'kysely';
import type { Db } from '../db/schema.js';

/** How many jobs of one kind wait, run or gave up, and since when the oldest due one waits. */
export interface JobQueueStats {
  kind: string;
  /** Pending and due now: a runner would take them on its next poll. */
  due: number;
  /** Pending with a later `run_at` (retries after backoff, periodic jobs' next run). */
  scheduled: number;
  running: number;
  /** Out of attempts; kept for inspection. */
  dead: number;
  /** `run_at` of the oldest due job, or null when none is due. */
  oldestDueAt: number | null;
}

/**
 * The job queue by kind, in one grouped read over the `(status, run_at)` index (done jobs are not
 * read). Run when metrics are scraped, never on a request path.
 */
export async function jobQueueStats(db: Db, now: number): Promise<JobQueueStats[]> {
  const rows = await db
    .selectFrom('jobs')
    .select((eb) => [
      'kind',
      'status',
      eb.fn.countAll().as('count'),
      sql<number>`sum(case when run_at <= ${now} then 1 else 0 end)`.as('due'),
      eb.fn.min('run_at').as('oldest'),
    ])
    .where('status', 'in', ['pending', 'running', 'dead'])
    .groupBy(['kind', 'status'])
    .execute();
  const byKind = new Map<string, JobQueueStats>();
  for (const row of rows) {
    let stats = byKind.get(row.kind);
    if (stats === undefined) {
      stats = { kind: row.kind, due: 0, scheduled: 0, running: 0, dead: 0, oldestDueAt: null };
      byKind.set(row.kind, stats);
    }
    // PostgreSQL answers aggregates as bigint or numeric: read them as numbers.
    const count = Number(row.count);
    if (row.status === 'pending') {
      const due = Number(row.due);
      stats.due = due;
      stats.scheduled = count - due;
      if (due > 0) stats.oldestDueAt = Number(row.oldest);
    } else if (row.status === 'running') {
      stats.running = count;
    } else if (row.status === 'dead') {
      stats.dead = count;
    }
  }
  return [...byKind.values()];
}
