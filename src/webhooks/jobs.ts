import type { JobDefinition } from '../jobs/runner.js';
import { createDeliverer, type DelivererDeps } from './deliver.js';
import type { DELIVER_JOB } from './dispatch.js';

export type WebhookJobKind = typeof DELIVER_JOB;

export function webhookJobs(deps: DelivererDeps): Record<WebhookJobKind, JobDefinition> {
  return { 'webhook.deliver': { run: createDeliverer(deps) } };
}
