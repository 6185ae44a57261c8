import type { JobDefinition } from '../jobs/runner.js';
import type { EMAIL_JOB } from './outbox.js';
import { createEmailSender, type EmailSenderDeps } from './sender.js';

export type EmailJobKind = typeof EMAIL_JOB;

export function emailJobs(deps: EmailSenderDeps): Record<EmailJobKind, JobDefinition> {
  return { 'email.send': { run: createEmailSender(deps) } };
}
