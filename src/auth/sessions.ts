import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Db, UsersTable } from '../db/schema.js';
import { newId } from '../ids.js';
import type { UsageBuffer } from '../usage/buffer.js';
import { digest, randomSecret, sealKeyFor } from './credentials.js';

export const SESSION_COOKIE = 'tooken_session';
export const SESSION_IDLE_MS = 14 * 24 * 60 * 60 * 1000;
/** How stale `last_seen_at` may get before a request refreshes it (through the usage buffer). */
const TOUCH_INTERVAL_MS = 60 * 1000;

export type User = Pick<UsersTable, 'id' | 'email' | 'name' | 'created_at'>;

export interface SessionPrincipal {
  type: 'session';
  user: User;
  /** SHA-256 of the cookie secret: what is stored, and the idempotency scope. */
  digest: string;
  csrfToken: string;
  /** Seals this session's idempotent replays: derived from the cookie secret, which is never stored. */
  sealKey: Buffer;
  /** The session was refreshed by this request: send the cookie again so it lives 14 days from now. */
  renew: boolean;
  /** `ses_…`: the session's public id. */
  publicId: string;
  /** The user has two-factor on (confirmed): what a workspace's `require_two_factor` asks. */
  twoFactor: boolean;
}

/** Where a session was signed in from, as `GET /v1/me/sessions` shows it. */
export interface SessionOrigin {
  ip: string | null;
  userAgent: string | null;
}

/**
 * The CSRF token is derived from the session secret, so nothing more is stored and it cannot be
 * used to recover the session.
 */
export function csrfTokenFor(sessionSecret: string): string {
  return createHash('sha256').update(`tooken-csrf\n${sessionSecret}`).digest('base64url');
}

export interface SessionStore {
  create(userId: string, origin: SessionOrigin): Promise<{ secret: string; csrfToken: string }>;
  resolve(secret: string): Promise<SessionPrincipal | null>;
  destroy(secret: string): Promise<void>;
}

export function createSessionStore({
  db,
  clock,
  usage,
}: {
  db: Db;
  clock: Clock;
  usage: UsageBuffer;
}): SessionStore {
  return {
    async create(userId, origin) {
      const secret = randomSecret();
      const now = clock();
      await db
        .insertInto('sessions')
        .values({
          id_digest: digest(secret),
          public_id: newId('ses'),
          user_id: userId,
          created_at: now,
          last_seen_at: now,
          ip: origin.ip,
          user_agent: origin.userAgent,
        })
        .execute();
      return { secret, csrfToken: csrfTokenFor(secret) };
    },
    async resolve(secret) {
      if (secret.length < 20 || secret.length > 100) return null;
      const idDigest = digest(secret);
      const row = await db
        .selectFrom('sessions')
        .innerJoin('users', 'users.id', 'sessions.user_id')
        .leftJoin('two_factor', 'two_factor.user_id', 'sessions.user_id')
        .select([
          'users.id',
          'users.email',
          'users.name',
          'users.created_at',
          'sessions.last_seen_at',
          'sessions.public_id',
          'two_factor.confirmed_at',
        ])
        .where('sessions.id_digest', '=', idDigest)
        .executeTakeFirst();
      const now = clock();
      if (row === undefined || now - row.last_seen_at > SESSION_IDLE_MS) return null;
      const renew = now - row.last_seen_at > TOUCH_INTERVAL_MS;
      if (renew) usage.sessionSeen(idDigest, now);
      const { last_seen_at: _, public_id: publicId, confirmed_at: confirmedAt, ...user } = row;
      return {
        type: 'session',
        user,
        digest: idDigest,
        csrfToken: csrfTokenFor(secret),
        sealKey: sealKeyFor(secret),
        renew,
        publicId,
        twoFactor: confirmedAt !== null,
      };
    },
    async destroy(secret) {
      await db.deleteFrom('sessions').where('id_digest', '=', digest(secret)).execute();
    },
  };
}
