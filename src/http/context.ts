import type { WorkspaceContext } from '../auth/context.js';
import type { Principal } from '../auth/principal.js';
import type { SessionPrincipal } from '../auth/sessions.js';

export interface PendingIdempotency {
  scope: string;
  key: string;
  sealKey: Buffer;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route takes any string in its body, NUL characters and lone surrogates included: it only
     * compares them in memory, so they never reach the database, a log or the audit log.
     */
    acceptsNul?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
    workspaceContext: WorkspaceContext | null;
    idempotency: PendingIdempotency | null;
  }
}

/** The workspace context of a route guarded by `access.workspace()` (always set there). */
export function contextOf(request: { workspaceContext: WorkspaceContext | null }): WorkspaceContext {
  if (request.workspaceContext === null) throw new Error('workspace route without workspace context');
  return request.workspaceContext;
}

/** The session of a route guarded by `access.session()` (always set there). */
export function sessionOf(request: { principal: Principal | null }): SessionPrincipal {
  if (request.principal?.type !== 'session') throw new Error('session route without a session');
  return request.principal;
}
