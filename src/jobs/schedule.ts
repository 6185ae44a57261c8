import type { Logger } from 'pino';
import { createRetentionPurge } from '../audit/retention.js';
import { EMAIL_JOB } from '../email/outbox.js';
import { createEmailSender } from '../email/sender.js';
import type { Services } from '../services.js';
import { createExpirySweep } from '../tokens/expiry.js';
import { createDeliverer } from '../webhooks/deliver.js';
import { DELIVER_JOB } from '../webhooks/dispatch.js';
import { JobRunner, type PeriodicJob } from './runner.js';

/** Every background job of a node (SPEC §9.5) and how often the periodic ones run. */
export const PERIODIC_JOBS: PeriodicJob[] = [
  { kind: 'tokens.expiry-sweep', intervalMs: 15_000 },
  { kind: 'idempotency.purge', intervalMs: 60 * 60 * 1000 },
  { kind: 'audit.retention', intervalMs: 60 * 60 * 1000 },
];

export function createJobRunner(
  services: Services,
  logger: Pick<Logger, 'error' | 'warn' | 'debug' | 'info'>,
  options: { nodeId?: string; pollMs?: number } = {},
): JobRunner {
  const sweep = createExpirySweep(services);
  const purgeAudit = createRetentionPurge(services);
  return new JobRunner({
    db: services.db,
    dialect: services.database.dialect,
    clock: services.clock,
    logger,
    periodic: PERIODIC_JOBS,
    handlers: {
      'tokens.expiry-sweep': async () => {
        await sweep();
      },
      [EMAIL_JOB]: createEmailSender({ ...services, logger }),
      [DELIVER_JOB]: createDeliverer({
        ...services,
        allowPrivate: services.config.webhookAllowPrivate,
        resolve: services.resolveHost,
      }),
      'audit.retention': async () => {
        await purgeAudit();
      },
      'idempotency.purge': async () => {
        await services.idempotency.purgeExpired();
      },
    },
    ...options,
  });
}
