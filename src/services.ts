import { createLoginThrottle } from './accounts/login-throttle.js';
import { type AccountService, createAccountService } from './accounts/service.js';
import { type ApiKeyService, createApiKeyService } from './api-keys/service.js';
import { type AuditLog, createAuditLog } from './audit/log.js';
import { type AuditService, createAuditService } from './audit/service.js';
import type { Workspace } from './auth/context.js';
import type { ApiKeyPrincipal } from './auth/principal.js';
import { createSessionStore, type SessionStore } from './auth/sessions.js';
import type { Clock } from './clock.js';
import { type CacheSize, createInvalidatingCache, type InvalidatingCache } from './cluster/cache.js';
import { createNotifier, type Notifier } from './cluster/notifier.js';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/database.js';
import type { Db } from './db/schema.js';
import { createMailer, type Mailer } from './email/mailer.js';
import { createEventOutbox, type EventOutbox } from './events/outbox.js';
import { createIdempotencyStore, type IdempotencyStore } from './idempotency/store.js';
import { createInvitationService, type InvitationService } from './invitations/service.js';
import { jobQueueStats } from './jobs/queue-stats.js';
import { createLeakService, type LeakService } from './leaks/service.js';
import { createMemberService, type MemberService } from './members/service.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { createDbRateLimiter, type RateLimiter } from './rate-limit/limiter.js';
import { createLocalRateLimiter, type LocalRateLimiter } from './rate-limit/local-limiter.js';
import { createTokenCache, type TokenCache } from './tokens/cache.js';
import { createTokenRateLimiter, type TokenRateLimiter } from './tokens/rate.js';
import { createTokenService, type TokenService } from './tokens/service.js';
import { type ChangeStreams, createChangeStreams } from './tokens/stream.js';
import { createUsageReports, type UsageReports } from './tokens/usage-report.js';
import { createTokensUsedEvents } from './tokens/used-events.js';
import { createTokenUses } from './tokens/uses.js';
import { createVerifier, type Verifier } from './tokens/verify.js';
import { createUsageBuffer, type UsageBuffer } from './usage/buffer.js';
import { queueFanOut } from './webhooks/dispatch.js';
import { createWebhookService, type WebhookService } from './webhooks/service.js';
import { type Resolve, systemResolve } from './webhooks/url-guard.js';
import { createWorkspaceService, type WorkspaceService } from './workspaces/service.js';

/** Every long-lived object of one node, created once in `main.ts` (or per test). */
export interface Services {
  config: Config;
  database: DatabaseHandle;
  db: Db;
  clock: Clock;
  /** The server's own key (TOOKEN_SECRET_KEY or generated), for secrets kept readable. */
  serverKey: Buffer;
  usage: UsageBuffer;
  audit: AuditService;
  auditLog: AuditLog;
  outbox: EventOutbox;
  sessions: SessionStore;
  accounts: AccountService;
  workspaces: WorkspaceService;
  apiKeys: ApiKeyService;
  rateLimiter: RateLimiter;
  verifyLimiter: LocalRateLimiter;
  /** Tokens' own rate limits, synced with the other nodes every second like `verifyLimiter`. */
  tokenRateLimiter: TokenRateLimiter;
  notifier: Notifier;
  tokenCache: TokenCache;
  /** API-key principals by digest, and workspaces by id: what every bearer request needs. */
  credentialCache: InvalidatingCache<ApiKeyPrincipal>;
  verifier: Verifier;
  /** The change streams of in-process verifiers open on this node, fed by its cluster notices. */
  changeStreams: ChangeStreams;
  usageReports: UsageReports;
  tokens: TokenService;
  members: MemberService;
  invitations: InvitationService;
  webhooks: WebhookService;
  leaks: LeakService;
  /** DNS for webhook hosts: checked at save and before every send. */
  resolveHost: Resolve;
  /** Null when TOOKEN_SMTP_URL is not set. */
  mailer: Mailer | null;
  idempotency: IdempotencyStore;
  /** Set once migrations have run; `/readyz` reports it. */
  ready: { migrated: boolean };
  /** This node's metrics, on a registry of its own (`/metrics`). */
  metrics: Metrics;
}

/**
 * How many entries the verify cache (tokens) and the API-key cache (credentials) keep: hits, and
 * remembered misses apart from them, so a flood of unknown secrets cannot push out real entries.
 */
export interface CacheSizes {
  tokens: CacheSize;
  credentials: CacheSize;
}

const DEFAULT_CACHE_SIZES: CacheSizes = {
  tokens: { hits: 100_000, misses: 10_000 },
  credentials: { hits: 10_000, misses: 1_000 },
};

export function createServices({
  config,
  database,
  clock,
  serverKey,
  resolve,
  cacheSizes = DEFAULT_CACHE_SIZES,
  onError = () => {},
}: {
  /** DNS for webhook hosts (tests inject one); the system resolver otherwise. */
  resolve?: Resolve;
  /** Tests use small caches, to fill them. */
  cacheSizes?: CacheSizes;
  config: Config;
  database: DatabaseHandle;
  clock: Clock;
  serverKey: Buffer;
  onError?: (error: unknown) => void;
}): Services {
  const db = database.db;
  const ttlMs = database.adapter.cacheTtlMs;
  const tokenCache = createTokenCache({ ...cacheSizes.tokens, ttlMs });
  const credentialCache = createInvalidatingCache<ApiKeyPrincipal>({ ...cacheSizes.credentials, ttlMs });
  // Looked up by ids of live credentials only: a miss here is a workspace deleted a moment ago.
  const workspaceCache = createInvalidatingCache<Workspace>({ hits: 10_000, misses: 100, ttlMs });
  const metrics = createMetrics({
    clock,
    caches: { token: tokenCache, credential: credentialCache, workspace: workspaceCache },
    database,
    jobQueue: () => jobQueueStats(db, clock()),
  });
  const notifier = createNotifier(database, onError, metrics.noticeDelay);
  notifier.subscribe((notice) => {
    switch (notice.type) {
      case 'reset':
        tokenCache.clear();
        credentialCache.clear();
        workspaceCache.clear();
        break;
      case 'token.changed':
        tokenCache.invalidate(notice.digests);
        break;
      case 'credentials.changed':
        credentialCache.invalidate(notice.digests);
        break;
      case 'workspace.changed':
        workspaceCache.invalidate(notice.ids);
        break;
    }
  });
  // After the caches above: a verifier told of a change asks again and must not get the stale answer.
  const changeStreams = createChangeStreams(
    { perWorkspace: config.streamsPerWorkspace, perNode: config.streamsPerNode },
    clock,
  );
  // This node's own notices were relayed when applied: their echo through the database is not.
  notifier.subscribe((notice, echo) => {
    if (!echo) changeStreams.relay(notice);
  });
  // Webhook fan-out is the outbox's one subscriber: one job per event, queued in the event's
  // transaction and expanded into deliveries after it commits.
  const outbox = createEventOutbox([queueFanOut]);
  const usage = createUsageBuffer(db, createTokensUsedEvents(outbox), database.lastUseWriter);
  const audit = createAuditService({ clock, outbox });
  const sessions = createSessionStore({ db, clock, usage });
  const rateLimiter = createDbRateLimiter({ db, clock });
  const invitations = createInvitationService({ db, clock, audit, serverKey, publicUrl: config.publicUrl });
  const workspaces = createWorkspaceService({
    db,
    clock,
    audit,
    notifier,
    cache: workspaceCache,
    rateLimiter,
  });
  const apiKeys = createApiKeyService({ db, clock, audit, notifier });
  const tokens = createTokenService({ db, clock, audit, outbox, notifier });
  const tokenRateLimiter = createTokenRateLimiter({ db: database.adapter.clustered ? db : null, clock });
  return {
    config,
    database,
    db,
    clock,
    serverKey,
    usage,
    audit,
    auditLog: createAuditLog({ db }),
    outbox,
    sessions,
    accounts: createAccountService({
      db,
      clock,
      sessions,
      throttle: createLoginThrottle({ db, clock }),
      signupMode: config.signup,
      audit,
      serverKey,
      publicUrl: config.publicUrl,
    }),
    workspaces,
    apiKeys,
    rateLimiter,
    verifyLimiter: createLocalRateLimiter({ db: database.adapter.clustered ? db : null, clock }),
    notifier,
    tokenCache,
    credentialCache,
    verifier: createVerifier({
      db,
      readNow: database.readNow,
      clock,
      cache: tokenCache,
      usage,
      limits: { rate: tokenRateLimiter, uses: createTokenUses(db) },
      onResult: metrics.verifyResult,
    }),
    tokenRateLimiter,
    changeStreams,
    usageReports: createUsageReports({ db, clock, usage }),
    tokens,
    members: createMemberService({ db, audit, notifier, invitations }),
    invitations,
    mailer: createMailer(config.smtpUrl, config.emailFrom),
    webhooks: createWebhookService({
      db,
      clock,
      audit,
      serverKey,
      allowPrivate: config.webhookAllowPrivate,
      resolve: resolve ?? systemResolve,
    }),
    leaks: createLeakService({
      tokens,
      apiKeys,
      // A workspace deleted meanwhile took its credentials with it; revoking is the safe answer.
      leakPolicyOf: async (id) => (await workspaces.byId(id))?.leak_policy ?? 'revoke',
    }),
    resolveHost: resolve ?? systemResolve,
    idempotency: createIdempotencyStore({ db, clock }),
    ready: { migrated: false },
    metrics,
  };
}
