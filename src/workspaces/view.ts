import type { Workspace } from '../auth/context.js';
import { iso } from '../clock.js';
import type { Role } from '../db/schema.js';
import { type Settings, settingsOf } from './settings.js';

/** A workspace in the caller's list, with the caller's role in it. */
export interface WorkspaceView {
  id: string;
  name: string;
  slug: string;
  role: Role;
  created_at: string;
}

export type SettingsView = Omit<Settings, 'created_at'> & { created_at: string };

export function workspaceView(ws: Workspace, role: Role): WorkspaceView {
  return { id: ws.id, name: ws.name, slug: ws.slug, role, created_at: iso(ws.created_at) };
}

export function settingsView(ws: Workspace): SettingsView {
  return { ...settingsOf(ws), created_at: iso(ws.created_at) };
}
