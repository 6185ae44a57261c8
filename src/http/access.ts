import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { constantTimeEqual, digest, parseSecret, sealKeyFor } from '../auth/credentials.js';
import { type Grant, isAllowed, type Permission } from '../auth/permissions.js';
import {
  type Principal,
  presentedCredential,
  resolveApiKey,
  sessionRequired,
  type TokenPrincipal,
} from '../auth/principal.js';
import { AppError, forbidden, notFound, unauthorizedKey } from '../errors.js';
import type { Services } from '../services.js';
import { tokenStatus } from '../tokens/status.js';
import type { WorkspaceContext } from './context.js';
import { setSessionCookie } from './session-cookie.js';

const UNSAFE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

/**
 * The one place where every request's caller is resolved and checked, in this order:
 * credential (401) → CSRF for cookie sessions (403) → workspace (404) → rate limit (429) →
 * permission (403). Nothing is read or changed before these pass.
 */
export function createAccess(services: Services) {
  const { db, sessions, usage, clock, workspaces, rateLimiter, config, verifier } = services;

  /** A token used as an API credential (SPEC §2.1): checked like a verify, noted as a use. */
  async function resolveToken(secret: string): Promise<TokenPrincipal> {
    const token = await verifier.find(secret);
    if (token === null) throw unauthorizedKey();
    const now = clock();
    const status = tokenStatus(token, now);
    if (status === 'expired') throw new AppError('unauthorized', 'Token has expired');
    if (status === 'revoked') throw new AppError('unauthorized', 'Token has been revoked');
    return {
      type: 'token',
      id: token.id,
      name: token.name,
      workspaceId: token.workspaceId,
      scopes: token.scopes,
      digest: digest(secret),
      sealKey: sealKeyFor(secret),
    };
  }

  async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<Principal> {
    const presented = presentedCredential(request.headers.authorization, request.headers.cookie);
    if (presented === null) throw unauthorizedKey();
    if (presented.kind === 'bearer') {
      if (parseSecret(presented.secret) === 'token') return resolveToken(presented.secret);
      return resolveApiKey(db, presented.secret, services.credentialCache);
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
      return { principal, workspace, role, grant: { via: 'session', role }, userId: principal.user.id };
    }
    const workspace = await workspaces.byId(principal.workspaceId);
    // Its workspace was deleted with everything in it (a token may still sit in the verify cache).
    if (workspace === undefined) throw unauthorizedKey();
    // A credential only ever reaches its own workspace; another slug is 404, never 403 (SPEC §2.2).
    if (slug !== undefined && slug !== workspace.slug) throw notFound('Workspace');
    if (principal.type === 'token') {
      return {
        principal,
        workspace,
        role: null,
        grant: { via: 'token', scopes: principal.scopes },
        userId: null,
      };
    }
    const grant: Grant = { via: 'api_key', role: principal.role };
    return { principal, workspace, role: principal.role, grant, userId: principal.userId };
  }

  async function applyRateLimit(reply: FastifyReply, workspaceId: string): Promise<void> {
    const result = await rateLimiter.hit(`api:${workspaceId}`, config.rateLimitPerMinute);
    reply.header('x-ratelimit-limit', result.limit);
    reply.header('x-ratelimit-remaining', result.remaining);
    reply.header('x-ratelimit-reset', result.reset);
    if (!result.allowed) {
      throw new AppError('rate_limited', 'Rate limit exceeded for this workspace; retry after the reset', {
        headers: { 'retry-after': String(result.retryAfter) },
      });
    }
  }

  return {
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
        if (!isAllowed(context.grant, permission)) {
          if (permission === 'workspace.delete' && context.grant.via !== 'session') throw sessionRequired();
          throw forbidden();
        }
        // Only an allowed call is a use (SPEC §5.7); noted in memory, written by the batched flush.
        if (principal.type === 'token') usage.tokenUsed(principal.id, clock());
        if (principal.type === 'api_key') usage.apiKeyUsed(principal.id, clock());
      };
    },
  };
}

export type Access = ReturnType<typeof createAccess>;
