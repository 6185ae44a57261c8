import type { Role } from '../api/session';

/** The roles in the order people read them, with their names as the dashboard shows them. */
export const ROLES: readonly Role[] = ['owner', 'admin', 'viewer'];

export const ROLE_NAMES: Record<Role, string> = { owner: 'Owner', admin: 'Admin', viewer: 'Viewer' };
