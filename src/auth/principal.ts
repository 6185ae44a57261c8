import type { InvalidatingCache } from '../cluster/cache.js';
import type { Db, Role } from '../db/schema.js';
import { AppError, unauthorizedKey } from '../errors.js';
import { constantTimeEqual, digest, parseSecret, sealKeyFor } from './credentials.js';
import type { SessionPrincipal } from './sessions.js';

/** Who did something, as an audit entry names them. */
export interface Actor {
  type: 'user' | 'api_key' | 'token' | 'system';
  id: string | null;
  name: string | null;
  /** The member a personal API key belongs to. */
  user_id?: string;
}

export interface ApiKeyPrincipal {
  type: 'api_key';
  id: string;
  name: string;
  kind: 'personal' | 'team';
  workspaceId: string;
  /** The team key's fixed role, or the personal key's member's role at this moment. */
  role: Role;
  userId: string | null;
  userEmail: string | null;
  digest: string;
  sealKey: Buffer;
}

export interface TokenPrincipal {
  type: 'token';
  id: string;
  name: string;
  workspaceId: string;
  scopes: readonly string[];
  /**
   * The earliest instant the presented secret stops working by itself: the token's expiry, or the
   * end of the rotation grace of an old secret; null when neither applies. Nothing it hands out may
   * outlive it (docs/permissions.md#token-scopes).
   */
  validUntil: number | null;
  digest: string;
  sealKey: Buffer;
}

export type Principal = SessionPrincipal | ApiKeyPrincipal | TokenPrincipal;

/** A credential as presented, before it is looked up. */
export type Presented = { kind: 'bearer'; secret: string } | { kind: 'session'; secret: string } | null;

export function presentedCredential(
  authorization: string | undefined,
  cookieHeader: string | undefined,
): Presented {
  if (authorization !== undefined) {
    const match = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(authorization.trim());
    if (match?.[1] === undefined) throw unauthorizedKey();
    return { kind: 'bearer', secret: match[1] };
  }
  const session = readCookie(cookieHeader, 'tooken_session');
  return session === null ? null : { kind: 'session', secret: session };
}

export function readCookie(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/**
 * Looks up an API key by the digest of its secret: from the in-process cache (hits, and misses
 * kept apart so that unknown keys cannot push real ones out), else one indexed read. Checksum
 * failures never reach either. Regenerate, delete, role changes and member removal invalidate the
 * entry on every node, so they take effect at once.
 */
export async function resolveApiKey(
  db: Db,
  secret: string,
  cache: InvalidatingCache<ApiKeyPrincipal>,
): Promise<ApiKeyPrincipal> {
  if (parseSecret(secret) !== 'api_key') throw unauthorizedKey();
  const presentedDigest = digest(secret);
  let principal = cache.get(presentedDigest);
  if (principal === undefined) {
    const generation = cache.generation();
    principal = await loadApiKey(db, presentedDigest, secret);
    cache.set(presentedDigest, principal, generation);
  }
  if (principal === null) throw unauthorizedKey();
  return principal;
}

async function loadApiKey(db: Db, presentedDigest: string, secret: string): Promise<ApiKeyPrincipal | null> {
  const row = await db
    .selectFrom('api_keys')
    .leftJoin('members', (join) =>
      join
        .onRef('members.workspace_id', '=', 'api_keys.workspace_id')
        .onRef('members.user_id', '=', 'api_keys.user_id'),
    )
    .leftJoin('users', 'users.id', 'api_keys.user_id')
    .select([
      'api_keys.id',
      'api_keys.name',
      'api_keys.kind',
      'api_keys.role',
      'api_keys.workspace_id',
      'api_keys.user_id',
      'api_keys.digest',
      'members.role as member_role',
      'users.email',
    ])
    .where('api_keys.digest', '=', presentedDigest)
    .executeTakeFirst();
  if (row === undefined || !constantTimeEqual(row.digest, presentedDigest)) return null;
  const role = row.kind === 'team' ? row.role : row.member_role;
  if (role === null) return null;
  return {
    type: 'api_key',
    id: row.id,
    name: row.name,
    kind: row.kind,
    workspaceId: row.workspace_id,
    role,
    userId: row.user_id,
    userEmail: row.email,
    digest: presentedDigest,
    sealKey: sealKeyFor(secret),
  };
}

/** How a principal appears in audit entries (docs/audit.md#entries). */
export function actorOf(principal: Principal): Actor {
  if (principal.type === 'session')
    return { type: 'user', id: principal.user.id, name: principal.user.email };
  if (principal.type === 'token') return { type: 'token', id: principal.id, name: principal.name };
  const actor: Actor = { type: 'api_key', id: principal.id, name: principal.name };
  if (principal.userId !== null) actor.user_id = principal.userId;
  return actor;
}

/** `created_by` / `created_by_id` of things a principal creates (docs/tokens.md#the-token-object). */
export function creatorOf(principal: Principal): { name: string; id: string } {
  if (principal.type === 'session') return { name: principal.user.email, id: principal.user.id };
  if (principal.type === 'token') return { name: principal.name, id: principal.id };
  if (principal.userId !== null && principal.userEmail !== null) {
    return { name: principal.userEmail, id: principal.userId };
  }
  return { name: principal.name, id: principal.id };
}

export function sessionRequired(): AppError {
  return new AppError('forbidden', 'This endpoint needs a dashboard session, not an API credential');
}
