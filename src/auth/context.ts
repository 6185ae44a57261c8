import type { Role, WorkspacesTable } from '../db/schema.js';
import type { ApiKeyPrincipal, TokenPrincipal } from './principal.js';
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
