import type { Clock } from '../clock.js';
import type { Db } from '../db/schema.js';
import type { JobDefinition } from '../jobs/runner.js';
import { createRetentionPurge } from './retention.js';

export type AuditJobKind = 'audit.retention';

export function auditJobs(deps: { db: Db; clock: Clock }): Record<AuditJobKind, JobDefinition> {
  const purge = createRetentionPurge(deps);
  return {
    'audit.retention': {
      everyMs: 60 * 60 * 1000,
      run: async () => {
        await purge();
      },
    },
  };
}
