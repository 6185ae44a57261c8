import type { Clock } from '../clock.js';
import type { Db, LoginFailuresTable } from '../db/schema.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';

export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
const LIMITS = { email: 5, ip: 20, reset_email: 5, reset_ip: 20 } as const;
type Kind = keyof typeof LIMITS;

/**
 * Login failures are kept in the database, so the limits hold across every node (docs/accounts.md#signing-in).
 * Each failed sign-in is counted once by email and once by IP; a success clears the email's count
 * only. A refused sign-up is counted by IP alone: counting it against the email would let anyone
 * lock a person out of signing in by signing up with their address.
 *
 * An attempt is recorded as a failure *before* its password is checked and taken back only when
 * it succeeds: were it counted afterwards, a burst of parallel guesses would all pass the check
 * while none had failed yet.
 */
export interface LoginThrottle {
  /** Counts the attempt, or throws 429 (not counting it) when a limit is already reached. */
  begin(email: string, ip: string): Promise<LoginAttempt>;
  /** The same for a sign-up, counted against the IP's budget only. */
  beginSignup(ip: string): Promise<LoginAttempt>;
  /** It succeeded: takes the attempt back and clears the email's failures; the IP keeps its earlier ones. */
  succeed(attempt: LoginAttempt): Promise<void>;
  /**
   * Takes the attempt back without clearing earlier failures: a step that proved something (a
   * right password before the second factor, a right code while signed in) but did not sign in.
   */
  withdraw(attempt: LoginAttempt): Promise<void>;
  /**
   * A password-reset request, counted by address and by IP in budgets of their own (the same
   * sizes as sign-in's), whatever its outcome: it is never taken back.
   */
  countReset(email: string, ip: string): Promise<void>;
}

export interface LoginAttempt {
  /** The email whose failures a success clears; null for a sign-up. */
  email: string | null;
  /** The rows that count this attempt, removed again when it succeeds or is refused. */
  rowIds: string[];
}

export function createLoginThrottle({ db, clock }: { db: Db; clock: Clock }): LoginThrottle {
  /** Seconds until the window reopens, or null when under the limit. */
  const waitFor = async (kind: Kind, subject: string): Promise<number | null> => {
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
  const count = async (kind: Kind, subject: string): Promise<number> => {
    const row = await db
      .selectFrom('login_failures')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', '=', kind)
      .where('subject', '=', subject)
      .where('at', '>', clock() - LOGIN_WINDOW_MS)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  const start = async (
    email: string | null,
    ip: string,
    message: string,
    kinds: { email: Kind; ip: Kind } = { email: 'email', ip: 'ip' },
  ): Promise<LoginAttempt> => {
    const now = clock();
    const rows: LoginFailuresTable[] = [
      ...(email === null ? [] : [{ id: newId('lf'), kind: kinds.email, subject: email, at: now }]),
      { id: newId('lf'), kind: kinds.ip, subject: ip, at: now },
    ];
    const attempt: LoginAttempt = { email, rowIds: rows.map((row) => row.id) };
    await db.transaction().execute(async (tx) => {
      await tx
        .deleteFrom('login_failures')
        .where('at', '<=', now - LOGIN_WINDOW_MS)
        .execute();
      await tx.insertInto('login_failures').values(rows).execute();
    });
    // Counted after the insert, so concurrent attempts see each other (at worst both refuse).
    const emailOk = email === null || (await count(kinds.email, email)) <= LIMITS[kinds.email];
    if (emailOk && (await count(kinds.ip, ip)) <= LIMITS[kinds.ip]) return attempt;
    await db.deleteFrom('login_failures').where('id', 'in', attempt.rowIds).execute();
    // When both limits are hit, the later reopening is the one the caller has to wait for.
    const emailWait = email === null ? 0 : ((await waitFor(kinds.email, email)) ?? 0);
    const wait = Math.max(1, emailWait, (await waitFor(kinds.ip, ip)) ?? 0);
    throw new AppError('rate_limited', message, { headers: { 'retry-after': String(wait) } });
  };
  return {
    begin: (email, ip) => start(email, ip, 'Too many failed sign-in attempts; try again later'),
    beginSignup: (ip) =>
      start(null, ip, 'Too many refused sign-ups or failed sign-ins from this address; try again later'),
    async countReset(email, ip) {
      await start(email, ip, 'Too many password-reset requests; try again later', {
        email: 'reset_email',
        ip: 'reset_ip',
      });
    },
    async withdraw(attempt) {
      await db.deleteFrom('login_failures').where('id', 'in', attempt.rowIds).execute();
    },
    async succeed(attempt) {
      const { email } = attempt;
      await db
        .deleteFrom('login_failures')
        .where((eb) =>
          eb.or([
            eb('id', 'in', attempt.rowIds),
            ...(email === null ? [] : [eb.and([eb('kind', '=', 'email'), eb('subject', '=', email)])]),
          ]),
        )
        .execute();
    },
  };
}
