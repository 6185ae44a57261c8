import type { Settings, TookenClient } from '@tooken/client';
import { createContext, useContext } from 'react';
import type { Me, Role, WorkspaceSummary } from '../api/session';

/** What every screen inside a workspace needs: who, where, with which role, and a client for it. */
export interface WorkspaceState {
  me: Me;
  workspace: WorkspaceSummary;
  role: Role;
  client: TookenClient;
  /** The workspace's settings (timezone, default expiration, custom scopes) once loaded. */
  settings: Settings | undefined;
}

export const WorkspaceContext = createContext<WorkspaceState | null>(null);

export function useWorkspace(): WorkspaceState {
  const state = useContext(WorkspaceContext);
  if (state === null) throw new Error('useWorkspace is used outside a workspace page');
  return state;
}

/** Whether the role may change things (tokens, webhooks): Owner and Admin. */
export const canWrite = (role: Role) => role === 'owner' || role === 'admin';
