import type { AuditService } from '../audit/service.js';
import type { Clock } from '../clock.js';
import type { Notifier } from '../cluster/notifier.js';
import type { Db } from '../db/schema.js';
import type { EventOutbox } from '../events/outbox.js';
import type { JobDefinition } from '../jobs/runner.js';
import { createExpirySweep } from './expiry.js';
import { createUsesRefill } from './uses.js';

export type TokenJobKind = 'tokens.expiry-sweep' | 'tokens.uses-refill';

/** `token.expired` / `token.expiring` are found by a sweep every 15 s (status itself never waits for it). */
export function tokenJobs(deps: {
  db: Db;
  clock: Clock;
  audit: AuditService;
  outbox: EventOutbox;
  notifier: Notifier;
}): Record<TokenJobKind, JobDefinition> {
  const sweep = createExpirySweep(deps);
  const refill = createUsesRefill(deps);
  return {
    'tokens.expiry-sweep': {
      everyMs: 15_000,
      run: async () => {
        await sweep();
      },
    },
    // Uses limits refill at the start of each UTC day or month, within this period after it.
    'tokens.uses-refill': {
      everyMs: 30_000,
      run: async () => {
        await refill();
      },
    },
  };
}
