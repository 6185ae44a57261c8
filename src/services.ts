import { createLoginThrottle } from './accounts/login-throttle.js';
import { type AccountService, createAccountService } from './accounts/service.js';
import { type ApiKeyService, createApiKeyService } from './api-keys/service.js';
import { type AuditService, createAuditService } from './audit/service.js';
import { createSessionStore, type SessionStore } from './auth/sessions.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/database.js';
import type { Db } from './db/schema.js';
import { createIdempotencyStore, type IdempotencyStore } from './idempotency/store.js';
import { createDbRateLimiter, type RateLimiter } from './rate-limit/limiter.js';
import { createUsageBuffer, type UsageBuffer } from './usage/buffer.js';
import { createWorkspaceService, type WorkspaceService } from './workspaces/service.js';

/** Every long-lived object of one node, created once in `main.ts` (or per test). */
export interface Services {
  config: Config;
  database: DatabaseHandle;
  db: Db;
  clock: Clock;
  usage: UsageBuffer;
  audit: AuditService;
  sessions: SessionStore;
  accounts: AccountService;
  workspaces: WorkspaceService;
  apiKeys: ApiKeyService;
  rateLimiter: RateLimiter;
  idempotency: IdempotencyStore;
  /** Set once migrations have run; `/readyz` reports it. */
  ready: { migrated: boolean };
}

export function createServices({
  config,
  database,
  clock,
}: {
  config: Config;
  database: DatabaseHandle;
  clock: Clock;
}): Services {
  const db = database.db;
  const usage = createUsageBuffer(db);
  const audit = createAuditService({ clock });
  const sessions = createSessionStore({ db, clock, usage });
  return {
    config,
    database,
    db,
    clock,
    usage,
    audit,
    sessions,
    accounts: createAccountService({
      db,
      clock,
      sessions,
      throttle: createLoginThrottle({ db, clock }),
      signupMode: config.signup,
    }),
    workspaces: createWorkspaceService({ db, clock, audit }),
    apiKeys: createApiKeyService({ db, clock, audit }),
    rateLimiter: createDbRateLimiter({ db, clock }),
    idempotency: createIdempotencyStore({ db, clock }),
    ready: { migrated: false },
  };
}
