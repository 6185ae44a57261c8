import type { Grant } from '../auth/permissions.js';
import type { Principal } from '../auth/principal.js';
import type { Role } from '../db/schema.js';
import type { Workspace } from '../workspaces/service.js';

/** Everything a workspace route knows about its caller, resolved before the handler runs. */
export interface WorkspaceContext {
  principal: Principal;
  workspace: Workspace;
  grant: Grant;
  /** The caller's role (null for tokens, which act through scopes). */
  role: Role | null;
  /** The person behind the call (session or personal key), null for team keys and tokens. */
  userId: string | null;
}

export interface PendingIdempotency {
  scope: string;
  key: string;
  sealKey: Buffer;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route takes NUL characters in its body (they never reach the database there). */
    acceptsNul?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
    workspaceContext: WorkspaceContext | null;
    idempotency: PendingIdempotency | null;
  }
}

/** The workspace context of a route registered with `workspaceAccess` (always set there). */
export function contextOf(request: { workspaceContext: WorkspaceContext | null }): WorkspaceContext {
  if (request.workspaceContext === null) throw new Error('workspace route without workspace context');
  return request.workspaceContext;
}
