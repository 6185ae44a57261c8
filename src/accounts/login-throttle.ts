import type { Clock } from '../clock.js';
import type { Db } from '../db/schema.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';

export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
const LIMITS = { email: 5, ip: 20 } as const;

/**
 * Login failures are kept in the database, so the limits hold across every node (docs/accounts.md#signing-in).
 * Each failure is counted once by email and once by IP; a success clears the email's count only.
 *
 * An attempt is recorded as a failure *before* its password is checked and taken back only when
 * it succeeds: were it counted afterwards, a burst of parallel guesses would all pass the check
 * while none had failed yet.
 */
export interface LoginThrottle {
  /** Counts the attempt, or throws 429 (not counting it) when a limit is already reached. */
  begin(email: string, ip: string): Promise<LoginAttempt>;
  /** The password was right: clears the email's failures; the IP keeps its earlier ones. */
  succeed(attempt: LoginAttempt): Promise<void>;
}

export interface LoginAttempt {
  email: string;
  /** The rows that count this attempt, removed again when it succeeds or is refused. */
  emailRowId: string;
  ipRowId: string;
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
  const count = async (kind: 'email' | 'ip', subject: string): Promise<number> => {
    const row = await db
      .selectFrom('login_failures')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', '=', kind)
      .where('subject', '=', subject)
      .where('at', '>', clock() - LOGIN_WINDOW_MS)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  return {
    async begin(email, ip) {
      const now = clock();
      const attempt: LoginAttempt = { email, emailRowId: newId('lf'), ipRowId: newId('lf') };
      await db.transaction().execute(async (tx) => {
        await tx
          .deleteFrom('login_failures')
          .where('at', '<=', now - LOGIN_WINDOW_MS)
          .execute();
        await tx
          .insertInto('login_failures')
          .values([
            { id: attempt.emailRowId, kind: 'email', subject: email, at: now },
            { id: attempt.ipRowId, kind: 'ip', subject: ip, at: now },
          ])
          .execute();
      });
      // Counted after the insert, so concurrent attempts see each other (at worst both refuse).
      if ((await count('email', email)) <= LIMITS.email && (await count('ip', ip)) <= LIMITS.ip) {
        return attempt;
      }
      await db
        .deleteFrom('login_failures')
        .where('id', 'in', [attempt.emailRowId, attempt.ipRowId])
        .execute();
      // When both limits are hit, the later reopening is the one the caller has to wait for.
      const wait = Math.max(1, (await waitFor('email', email)) ?? 0, (await waitFor('ip', ip)) ?? 0);
      throw new AppError('rate_limited', 'Too many failed sign-in attempts; try again later', {
        headers: { 'retry-after': String(wait) },
      });
    },
    async succeed(attempt) {
      await db
        .deleteFrom('login_failures')
        .where((eb) =>
          eb.or([
            eb.and([eb('kind', '=', 'email'), eb('subject', '=', attempt.email)]),
            eb('id', '=', attempt.ipRowId),
          ]),
        )
        .execute();
    },
  };
}
