import type { Role } from '../db/schema.js';

/** Built-in token scopes (docs/permissions.md#token-scopes). */
export const BUILT_IN_SCOPES = [
  'tokens:read',
  'tokens:write',
  'tokens:revoke',
  'tokens:rotate',
  'tokens:verify',
  'audit:read',
  'webhooks:read',
  'webhooks:write',
] as const;
export type BuiltInScope = (typeof BUILT_IN_SCOPES)[number];

export function isBuiltInScope(scope: string): scope is BuiltInScope {
  return (BUILT_IN_SCOPES as readonly string[]).includes(scope);
}

interface Rule {
  /** Roles allowed (sessions, personal keys with their member's role, team keys with theirs). */
  roles: readonly Role[];
  /** The scope a token needs; null: tokens may never do this. */
  scope: BuiltInScope | null;
  /** Only a dashboard session may do this (bearer credentials get 403). */
  sessionOnly?: boolean;
}

const ALL: readonly Role[] = ['owner', 'admin', 'viewer'];
const OWNER_ADMIN: readonly Role[] = ['owner', 'admin'];
const OWNER: readonly Role[] = ['owner'];

/** The permission table (docs/permissions.md#permission-table), in one place. */
export const PERMISSIONS = {
  'tokens.read': { roles: ALL, scope: 'tokens:read' },
  'tokens.create': { roles: OWNER_ADMIN, scope: 'tokens:write' },
  'tokens.revoke': { roles: OWNER_ADMIN, scope: 'tokens:revoke' },
  'tokens.rotate': { roles: OWNER_ADMIN, scope: 'tokens:rotate' },
  'tokens.verify': { roles: ALL, scope: 'tokens:verify' },
  'members.read': { roles: ALL, scope: null },
  'members.manage': { roles: OWNER, scope: null },
  'settings.read': { roles: ALL, scope: null },
  'settings.write': { roles: OWNER, scope: null },
  'api_keys.personal': { roles: ALL, scope: null },
  'api_keys.team': { roles: OWNER, scope: null },
  'audit.read': { roles: OWNER_ADMIN, scope: 'audit:read' },
  'audit.verify': { roles: OWNER, scope: null },
  'webhooks.read': { roles: ALL, scope: 'webhooks:read' },
  'webhooks.write': { roles: OWNER_ADMIN, scope: 'webhooks:write' },
  'workspace.delete': { roles: OWNER, scope: null, sessionOnly: true },
} as const satisfies Record<string, Rule>;

export type Permission = keyof typeof PERMISSIONS;

/** Who is acting inside a workspace: a role (sessions and API keys) or a set of scopes (tokens). A WorkspaceContext is one. */
export type Grant =
  | { via: 'session'; role: Role }
  | { via: 'api_key'; role: Role }
  | { via: 'token'; scopes: readonly string[] };

export function isAllowed(grant: Grant, permission: Permission): boolean {
  const rule: Rule = PERMISSIONS[permission];
  if (rule.sessionOnly && grant.via !== 'session') return false;
  if (grant.via === 'token') return rule.scope !== null && grant.scopes.includes(rule.scope);
  return rule.roles.includes(grant.role);
}
