import type { JobDefinition } from '../jobs/runner.js';
import type { IdempotencyStore } from './store.js';

export type IdempotencyJobKind = 'idempotency.purge';

/** Kept responses live 24 h; the purge removes them hourly. */
export function idempotencyJobs(store: IdempotencyStore): Record<IdempotencyJobKind, JobDefinition> {
  return {
    'idempotency.purge': {
      everyMs: 60 * 60 * 1000,
      run: async () => {
        await store.purgeExpired();
      },
    },
  };
}
