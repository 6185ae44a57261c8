import { describe, expect, it } from 'vitest';
import { isAllowed, PERMISSIONS } from './permissions.js';

describe('the permission matrix', () => {
  it('lets a viewer read tokens and verify but not create, revoke or rotate', () => {
    const viewer = { via: 'session', role: 'viewer' } as const;
    expect(isAllowed(viewer, 'tokens.read')).toBe(true);
    expect(isAllowed(viewer, 'tokens.verify')).toBe(true);
    expect(isAllowed(viewer, 'tokens.create')).toBe(false);
    expect(isAllowed(viewer, 'tokens.revoke')).toBe(false);
    expect(isAllowed(viewer, 'tokens.rotate')).toBe(false);
    expect(isAllowed(viewer, 'audit.read')).toBe(false);
  });

  it('keeps settings, members and team keys for owners', () => {
    for (const permission of ['settings.write', 'members.manage', 'api_keys.team'] as const) {
      expect(isAllowed({ via: 'session', role: 'owner' }, permission)).toBe(true);
      expect(isAllowed({ via: 'session', role: 'admin' }, permission)).toBe(false);
      expect(isAllowed({ via: 'api_key', role: 'admin' }, permission)).toBe(false);
    }
  });

  it('lets a token act only within its scopes and never on members, settings or keys', () => {
    const token = { via: 'token', scopes: ['tokens:read', 'audit:read'] } as const;
    expect(isAllowed(token, 'tokens.read')).toBe(true);
    expect(isAllowed(token, 'audit.read')).toBe(true);
    expect(isAllowed(token, 'tokens.create')).toBe(false);
    for (const permission of [
      'members.read',
      'settings.read',
      'api_keys.personal',
      'workspace.delete',
    ] as const) {
      expect(PERMISSIONS[permission].scope).toBeNull();
      expect(isAllowed({ via: 'token', scopes: ['tokens:read'] }, permission)).toBe(false);
    }
  });

  it('allows deleting a workspace only to an owner with a session', () => {
    expect(isAllowed({ via: 'session', role: 'owner' }, 'workspace.delete')).toBe(true);
    expect(isAllowed({ via: 'api_key', role: 'owner' }, 'workspace.delete')).toBe(false);
    expect(isAllowed({ via: 'session', role: 'admin' }, 'workspace.delete')).toBe(false);
  });
});
