import type { Clock } from '../clock.js';
import type { Db } from '../db/schema.js';
import type { JobDefinition } from './runner.js';

export type JobsJobKind = 'jobs.purge';

const DAY_MS = 86_400_000;
/** Finished jobs are kept a week; dead ones a month, for looking into what failed. */
export const KEEP_DONE_MS = 7 * DAY_MS;
export const KEEP_DEAD_MS = 30 * DAY_MS;
const BATCH = 5000;

/**
 * The runner's own upkeep: every attempt and fan-out leaves a row, and old rows would otherwise
 * slow every claim. Deletes in batches, so a first purge of a large table holds no long lock.
 */
export function jobsPurge(deps: { db: Db; clock: Clock }): Record<JobsJobKind, JobDefinition> {
  return {
    'jobs.purge': {
      everyMs: 60 * 60 * 1000,
      run: async (_payload, job) => {
        const now = deps.clock();
        for (;;) {
          const result = await deps.db
            .deleteFrom('jobs')
            .where('id', 'in', (eb) =>
              eb
                .selectFrom('jobs')
                .select('id')
                .where((w) =>
                  w.or([
                    w.and([w('status', '=', 'done'), w('updated_at', '<', now - KEEP_DONE_MS)]),
                    w.and([w('status', '=', 'dead'), w('updated_at', '<', now - KEEP_DEAD_MS)]),
                  ]),
                )
                .limit(BATCH),
            )
            .executeTakeFirst();
          if (Number(result.numDeletedRows) < BATCH || job.signal.aborted) return;
        }
      },
    },
  };
}
