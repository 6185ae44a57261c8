import type { Logger } from 'pino';
import { type AuditJobKind, auditJobs } from './audit/jobs.js';
import { type EmailJobKind, emailJobs } from './email/jobs.js';
import { type IdempotencyJobKind, idempotencyJobs } from './idempotency/jobs.js';
import { type JobsJobKind, jobsPurge } from './jobs/purge.js';
import { type JobDefinition, JobRunner, type RunnerOptions } from './jobs/runner.js';
import type { Services } from './services.js';
import { type TokenJobKind, tokenJobs } from './tokens/jobs.js';
import { type WebhookJobKind, webhookJobs } from './webhooks/jobs.js';

/** Every kind of background job: a kind without a definition below fails compilation. */
export type JobKind =
  | JobsJobKind
  | TokenJobKind
  | AuditJobKind
  | IdempotencyJobKind
  | EmailJobKind
  | WebhookJobKind;

/** The node's background work: each feature's jobs, wired to one runner. */
export function createJobRunner(
  services: Services,
  logger: Pick<Logger, 'error' | 'warn' | 'debug' | 'info'>,
  options: Partial<
    Pick<RunnerOptions, 'nodeId' | 'pollMs' | 'leaseMs' | 'heartbeatMs' | 'concurrency' | 'perWorkspace'>
  > = {},
): JobRunner {
  const {
    db,
    clock,
    audit,
    outbox,
    notifier,
    idempotency,
    mailer,
    invitations,
    accounts,
    serverKey,
    config,
  } = services;
  const jobs = {
    ...jobsPurge({ db, clock }),
    ...tokenJobs({ db, clock, audit, outbox, notifier }),
    ...auditJobs({ db, clock }),
    ...idempotencyJobs(idempotency),
    ...emailJobs({
      db,
      clock,
      mailer,
      acceptUrl: invitations.acceptUrl,
      resetUrl: accounts.resetUrl,
      logger,
    }),
    ...webhookJobs({
      db,
      clock,
      audit,
      serverKey,
      allowPrivate: config.webhookAllowPrivate,
      resolve: services.resolveHost,
      onOutcome: services.metrics.deliveryOutcome,
    }),
  } satisfies Record<JobKind, JobDefinition>;
  return new JobRunner({
    db,
    adapter: services.database.adapter,
    clock,
    logger,
    jobs,
    leaseMs: config.jobLeaseMs,
    ...options,
  });
}
