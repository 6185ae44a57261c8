import type { JobDefinition } from '../jobs/runner.js';
import { createDeliverer, type DelivererDeps } from './deliver.js';
import { createFanOut, type DELIVER_JOB, type FAN_OUT_JOB } from './dispatch.js';

export type WebhookJobKind = typeof DELIVER_JOB | typeof FAN_OUT_JOB;

/** An attempt is bounded by the send timeout; this limit only catches a run stuck elsewhere (the database). */
const DELIVER_TIME_LIMIT_MS = 30_000;

export function webhookJobs(deps: DelivererDeps): Record<WebhookJobKind, JobDefinition> {
  return {
    'webhook.fan-out': { run: createFanOut(deps) },
    'webhook.deliver': { run: createDeliverer(deps), timeoutMs: DELIVER_TIME_LIMIT_MS },
  };
}
