import { newId } from '../auth/credentials.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/schema.js';
import { AppError } from '../errors.js';

export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
const LIMITS = { email: 5, ip: 20 } as const;

/**
 * Login failures are kept in the database, so the limits hold across every node (SPEC §2.4).
 * Each failure is counted once by email and once by IP; a success clears the email's count only.
 */
export interface LoginThrottle {
  check(email: string, ip: string): Promise<void>;
  fail(email: string, ip: string): Promise<void>;
  succeed(email: string): Promise<void>;
}

export function createLoginThrottle({ db, clock }: { db: Db; clock: Clock }): LoginThrottle {
  /** Seconds until the window reopens, or null when under the limit. */
  const waitFor = async (kind: 'email' | 'ip', subject: string): Promise<number | null> => {
    const now = clock();
    const max = LIMITS[kind];
    const rows = await db
      .selectFrom('login_failures')
      .select('at')
      .where('kind', '=', kind)
      .where('subject', '=', subject)
      .where('at', '>', now - LOGIN_WINDOW_MS)
      .orderBy('at', 'desc')
      .limit(max)
      .execute();
    const oldest = rows[max - 1];
    if (oldest === undefined) return null;
    return Math.max(1, Math.ceil((oldest.at + LOGIN_WINDOW_MS - now) / 1000));
  };
  return {
    async check(email, ip) {
      const wait = (await waitFor('email', email)) ?? (await waitFor('ip', ip));
      if (wait !== null) {
        throw new AppError('rate_limited', 'Too many failed sign-in attempts; try again later', {
          headers: { 'retry-after': String(wait) },
        });
      }
    },
    async fail(email, ip) {
      const now = clock();
      await db.transaction().execute(async (tx) => {
        await tx
          .deleteFrom('login_failures')
          .where('at', '<=', now - LOGIN_WINDOW_MS)
          .execute();
        await tx
          .insertInto('login_failures')
          .values([
            { id: newId('lf'), kind: 'email', subject: email, at: now },
            { id: newId('lf'), kind: 'ip', subject: ip, at: now },
          ])
          .execute();
      });
    },
    async succeed(email) {
      await db
        .deleteFrom('login_failures')
        .where('kind', '=', 'email')
        .where('subject', '=', email)
        .execute();
    },
  };
}
