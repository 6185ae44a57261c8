import type { Role, WorkspacesTable } from '../db/schema.js';
import { type Actor, type ApiKeyPrincipal, actorOf, type TokenPrincipal } from './principal.js';
import type { SessionPrincipal } from './sessions.js';

/** A workspace as stored (settings decoded by the workspaces feature where needed). */
export type Workspace = WorkspacesTable;

/**
 * Who is calling, inside which workspace: resolved before any workspace route runs and the one
 * shape every feature service takes. People (dashboard sessions, personal API keys) and team keys
 * act with a role; tokens act with their scopes only.
 */
export type WorkspaceContext =
  | {
      via: 'session';
      principal: SessionPrincipal;
      workspace: Workspace;
      role: Role;
      /** The person behind the call. */
      userId: string;
    }
  | {
      via: 'api_key';
      principal: ApiKeyPrincipal;
      workspace: Workspace;
      role: Role;
      /** The member behind a personal key; null for a team key. */
      userId: string | null;
    }
  | {
      via: 'token';
      principal: TokenPrincipal;
      workspace: Workspace;
      scopes: readonly string[];
      role: null;
      userId: null;
    };

/** The system acting inside a workspace with no caller at all, as on a leaked-secret report. */
export interface SystemContext {
  workspace: { id: string };
  principal: null;
}

export const SYSTEM_ACTOR: Actor = { type: 'system', id: null, name: 'tooken' };

/** Who an audit entry names for a change made by `ctx`. */
export function actorFor(ctx: WorkspaceContext | SystemContext): Actor {
  return ctx.principal === null ? SYSTEM_ACTOR : actorOf(ctx.principal);
}
