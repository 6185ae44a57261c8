import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Workspace, WorkspaceContext } from '../auth/context.js';
import { constantTimeEqual, digest, parseSecret } from '../auth/credentials.js';
import { isAllowed, type Permission } from '../auth/permissions.js';
import {
  type ApiKeyPrincipal,
  type Presented,
  type Principal,
  presentedCredential,
  sessionRequired,
  type TokenPrincipal,
} from '../auth/principal.js';
import type { SessionStore } from '../auth/sessions.js';
import type { Clock } from '../clock.js';
import type { Role } from '../db/schema.js';
import { AppError, forbidden, notFound, unauthorizedKey } from '../errors.js';
import type { RateLimiter } from '../rate-limit/limiter.js';
import type { UsageBuffer } from '../usage/buffer.js';
import { setSessionCookie } from './session-cookie.js';

const UNSAFE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

const KNOWN_KEY = Symbol('tooken.access.knownKey');

/**
 * A connection (its socket) remembers the digest of the last API key presented on it: a service
 * sends the same key on every request of a kept-alive connection, so its checksum and SHA-256 are
 * computed once per connection instead of once per request. Only the digest is kept, and only for
 * the exact header that produced it (compared with a header sent earlier on the same connection,
 * so the comparison reveals nothing the sender does not already know).
 */
export interface KeyMemo {
  [KNOWN_KEY]?: { authorization: string; digest: string };
}

/** The digest of a bearer API key's secret, or null when the header holds no well-formed API key. */
function apiKeyDigestOf(authorization: string, connection: KeyMemo): string | null {
  const known = connection[KNOWN_KEY];
  if (known !== undefined && known.authorization === authorization) return known.digest;
  let presented: Presented;
  try {
    presented = presentedCredential(authorization, undefined);
  } catch {
    return null;
  }
  if (presented?.kind !== 'bearer' || parseSecret(presented.secret) !== 'api_key') return null;
  const keyDigest = digest(presented.secret);
  connection[KNOWN_KEY] = { authorization, digest: keyDigest };
  return keyDigest;
}

/** An API key's grant in its workspace: the team key's role, or the personal key's member's. */
const apiKeyContext = (principal: ApiKeyPrincipal, workspace: Workspace): WorkspaceContext => ({
  via: 'api_key',
  principal,
  workspace,
  role: principal.role,
  userId: principal.userId,
});

/** What resolving a caller needs, each from the feature that owns it. */
export interface AccessDeps {
  clock: Clock;
  sessions: Pick<SessionStore, 'resolve'>;
  /** An API key by its secret (401 when unknown). */
  resolveApiKey(secret: string): Promise<ApiKeyPrincipal>;
  /**
   * An API key from the in-process cache only, by the digest of its secret: the principal, null
   * when known to be no key, or undefined when only the database can tell.
   */
  cachedApiKey(digest: string): ApiKeyPrincipal | null | undefined;
  /** A token used as an API credential (401 when unknown, expired or revoked). */
  resolveToken(secret: string): Promise<TokenPrincipal>;
  workspaces: {
    bySlug(slug: string): Promise<Workspace | undefined>;
    byId(id: string): Promise<Workspace | undefined>;
    cachedById(id: string): Workspace | null | undefined;
    roleOf(workspaceId: string, userId: string): Promise<Role | null>;
  };
  rateLimiter: RateLimiter;
  rateLimitPerMinute: number;
  usage: Pick<UsageBuffer, 'tokenUsed' | 'apiKeyUsed'>;
}

/**
 * The one place where every request's caller is resolved and checked, in this order:
 * credential (401) → CSRF for cookie sessions (403) → workspace (404) → two-factor required of
 * sessions (403) → rate limit (429) → permission (403). Nothing is read or changed before these pass.
 */
export function createAccess(deps: AccessDeps) {
  const { sessions, usage, clock, workspaces, rateLimiter } = deps;

  async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<Principal> {
    const presented = presentedCredential(request.headers.authorization, request.headers.cookie);
    if (presented === null) throw unauthorizedKey();
    if (presented.kind === 'bearer') {
      if (parseSecret(presented.secret) === 'token') return deps.resolveToken(presented.secret);
      return deps.resolveApiKey(presented.secret);
    }
    const session = await sessions.resolve(presented.secret);
    if (session === null) throw new AppError('unauthorized', 'Your session has expired; sign in again');
    // An active session stays alive: 14 days idle on the server, so 14 days from now in the browser.
    if (session.renew) setSessionCookie(request, reply, presented.secret);
    if (UNSAFE_METHODS.has(request.method)) {
      const header = request.headers['x-csrf-token'];
      if (typeof header !== 'string' || !constantTimeEqual(header, session.csrfToken)) {
        throw forbidden('Missing or invalid X-CSRF-Token header');
      }
    }
    return session;
  }

  async function resolveWorkspace(request: FastifyRequest, principal: Principal): Promise<WorkspaceContext> {
    const slug = (request.params as { slug?: string }).slug;
    if (principal.type === 'session') {
      if (slug === undefined) {
        throw new AppError(
          'bad_request',
          'A dashboard session selects its workspace in the path: /v1/workspaces/{slug}/…',
        );
      }
      const workspace = await workspaces.bySlug(slug);
      const role = workspace ? await workspaces.roleOf(workspace.id, principal.user.id) : null;
      if (workspace === undefined || role === null) throw notFound('Workspace');
      // Asked of people at the dashboard; API keys are not (docs/accounts.md#requiring-two-factor).
      if (Number(workspace.require_two_factor) === 1 && !principal.twoFactor) {
        throw new AppError(
          'two_factor_required',
          'This workspace requires two-factor authentication: turn it on for your account (POST /v1/me/two-factor) to continue',
        );
      }
      return { via: 'session', principal, workspace, role, userId: principal.user.id };
    }
    const workspace = await workspaces.byId(principal.workspaceId);
    // Its workspace was deleted with everything in it (a token may still sit in the verify cache).
    if (workspace === undefined) throw unauthorizedKey();
    // A credential only ever reaches its own workspace; another slug is 404, never 403.
    if (slug !== undefined && slug !== workspace.slug) throw notFound('Workspace');
    if (principal.type === 'token') {
      return { via: 'token', principal, workspace, scopes: principal.scopes, role: null, userId: null };
    }
    return apiKeyContext(principal, workspace);
  }

  async function applyRateLimit(reply: FastifyReply, workspaceId: string): Promise<void> {
    const result = await rateLimiter.hit(`api:${workspaceId}`, deps.rateLimitPerMinute);
    reply.header('x-ratelimit-limit', result.limit);
    reply.header('x-ratelimit-remaining', result.remaining);
    reply.header('x-ratelimit-reset', result.reset);
    if (!result.allowed) {
      throw new AppError('rate_limited', 'Rate limit exceeded for this workspace; retry after the reset', {
        headers: { 'retry-after': String(result.retryAfter) },
      });
    }
  }

  /**
   * `workspace(permission, { budget: 'verify' })` without I/O, for the verify fast lane
   * (src/tokens/verify-lane.ts): a bearer API key and its workspace both already cached, the
   * same checks in the same order, and the use noted as the hook notes it. Null whenever the hook
   * could answer otherwise than "allowed" or would need the database: the lane then hands the
   * request to the full route, which answers (errors included) exactly as always.
   */
  function cachedApiKeyContext(
    authorization: string | undefined,
    slug: string | undefined,
    permission: Permission,
    connection: KeyMemo,
  ): WorkspaceContext | null {
    if (authorization === undefined) return null;
    const keyDigest = apiKeyDigestOf(authorization, connection);
    if (keyDigest === null) return null;
    // Looked up on every request, so a revocation or role change applies at once.
    const principal = deps.cachedApiKey(keyDigest);
    if (principal === undefined || principal === null) return null;
    const workspace = workspaces.cachedById(principal.workspaceId);
    if (workspace === undefined || workspace === null) return null;
    if (slug !== undefined && slug !== workspace.slug) return null;
    const context = apiKeyContext(principal, workspace);
    if (!isAllowed(context, permission)) return null;
    usage.apiKeyUsed(principal.id, clock());
    return context;
  }

  return {
    cachedApiKeyContext,
    /** Any signed-in dashboard user; bearer credentials get 403. */
    session(): onRequestAsyncHookHandler {
      return async (request, reply) => {
        const principal = await authenticate(request, reply);
        if (principal.type !== 'session') throw sessionRequired();
        request.principal = principal;
      };
    },
    /**
     * A workspace route: resolves the workspace from the path or the credential, then checks.
     * Verification draws from its own budget, counted by the route without a database write.
     */
    workspace(
      permission: Permission,
      options: { budget: 'api' | 'verify' } = { budget: 'api' },
    ): onRequestAsyncHookHandler {
      return async (request, reply) => {
        const principal = await authenticate(request, reply);
        request.principal = principal;
        const context = await resolveWorkspace(request, principal);
        // Known before the checks so that a 403 or 429 is logged with its workspace; a handler
        // still runs only when every check passes.
        request.workspaceContext = context;
        if (options.budget === 'api') await applyRateLimit(reply, context.workspace.id);
        if (!isAllowed(context, permission)) {
          if (permission === 'workspace.delete' && context.via !== 'session') throw sessionRequired();
          throw forbidden();
        }
        // Only an allowed call is a use; noted in memory, written by the batched flush.
        if (principal.type === 'token') usage.tokenUsed(principal.id, clock());
        if (principal.type === 'api_key') usage.apiKeyUsed(principal.id, clock());
      };
    },
  };
}

export type Access = ReturnType<typeof createAccess>;
