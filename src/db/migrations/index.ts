import type { Migration, MigrationProvider } from 'kysely';
import * as foundation from './001-foundation.js';
import * as tokensJobs from './002-tokens-jobs.js';
import * as invitationsEmail from './003-invitations-email.js';
import * as webhooks from './004-webhooks.js';
import * as auditAnchor from './005-audit-anchor.js';
import * as jobFairness from './006-job-fairness.js';
import * as tokenPlatform from './007-token-platform.js';
import * as accountSecurity from './008-account-security.js';

/** Migrations are listed here (not read from disk) so they work from `src` and from `dist`. */
const MIGRATIONS: Record<string, Migration> = {
  '001-foundation': foundation,
  '002-tokens-jobs': tokensJobs,
  '003-invitations-email': invitationsEmail,
  '004-webhooks': webhooks,
  '005-audit-anchor': auditAnchor,
  '006-job-fairness': jobFairness,
  '007-token-platform': tokenPlatform,
  '008-account-security': accountSecurity,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
