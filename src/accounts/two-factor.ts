import type { AuditService, RequestMeta } from '../audit/service.js';
import { constantTimeEqual, digest, randomSecret } from '../auth/credentials.js';
import { seal, unseal } from '../auth/sealing.js';
import type { User } from '../auth/sessions.js';
import type { Clock } from '../clock.js';
import type { Db, Executor } from '../db/schema.js';
import { AppError, badField } from '../errors.js';
import type { LoginThrottle } from './login-throttle.js';
import { recordInEveryWorkspace } from './member-audit.js';
import { verifyPassword } from './passwords.js';
import { newRecoveryCodes, newTotpSecret, normaliseRecoveryCode, totpStep } from './totp.js';

/** How long the second step of a sign-in may wait, and how many wrong codes one challenge takes. */
export const CHALLENGE_TTL_MS = 5 * 60 * 1000;
const CHALLENGE_MAX_FAILURES = 5;

/** A code as presented: a TOTP code from the app, or one of the recovery codes. */
export type SecondFactor = { code: string } | { recoveryCode: string };

export interface TwoFactorOps {
  /** Starts (or restarts) enrolment: a new secret, pending until confirmed with a code. */
  beginTwoFactor(user: User): Promise<{ secret: string; otpauth_uri: string }>;
  /** Turns two-factor on with a code of the pending secret; the ten recovery codes, shown once. */
  confirmTwoFactor(user: User, code: string, meta: RequestMeta & { ip: string }): Promise<string[]>;
  /** Turns it off with the password and a code (or a recovery code). */
  disableTwoFactor(
    user: User,
    input: { password: string; code: string },
    meta: RequestMeta & { ip: string },
  ): Promise<void>;
  hasTwoFactor(userId: string): Promise<boolean>;
  /** A single-use challenge for the second step of a sign-in (its digest is stored). */
  issueChallenge(userId: string): Promise<string>;
  /** The user a challenge and a code complete a sign-in for; throws 401 otherwise. */
  completeChallenge(challenge: string, factor: SecondFactor, ip: string): Promise<User>;
}

interface Deps {
  db: Db;
  clock: Clock;
  audit: AuditService;
  throttle: LoginThrottle;
  serverKey: Buffer;
}

export function createTwoFactorOps({ db, clock, audit, throttle, serverKey }: Deps): TwoFactorOps {
  const stateOf = (userId: string) =>
    db.selectFrom('two_factor').selectAll().where('user_id', '=', userId).executeTakeFirst();

  /**
   * Accepts a TOTP code once: the time-step moves forward only if no code of this step or a later
   * one was accepted before (a conditional update, so two requests with one code cannot both pass).
   */
  const acceptCode = async (tx: Executor, userId: string, sealed: string, code: string): Promise<boolean> => {
    const step = totpStep(unseal(sealed, serverKey), code, clock());
    if (step === null) return false;
    const moved = await tx
      .updateTable('two_factor')
      .set({ last_step: step })
      .where('user_id', '=', userId)
      .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
      .executeTakeFirst();
    return Number(moved.numUpdatedRows) === 1;
  };

  /** Uses up a recovery code (conditional: a code works once, even for two requests at once). */
  const acceptRecoveryCode = async (tx: Executor, userId: string, code: string): Promise<boolean> => {
    const presented = digest(normaliseRecoveryCode(code));
    const row = await tx
      .selectFrom('recovery_codes')
      .select('digest')
      .where('digest', '=', presented)
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    if (row === undefined || !constantTimeEqual(row.digest, presented)) return false;
    const used = await tx
      .updateTable('recovery_codes')
      .set({ used_at: clock() })
      .where('digest', '=', presented)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(used.numUpdatedRows) === 1;
  };

  const acceptFactor = async (userId: string, sealed: string, factor: SecondFactor) =>
    'code' in factor
      ? acceptCode(db, userId, sealed, factor.code)
      : acceptRecoveryCode(db, userId, factor.recoveryCode);

  return {
    async beginTwoFactor(user) {
      const current = await stateOf(user.id);
      if (current?.confirmed_at != null) {
        throw new AppError('conflict', 'Two-factor is already on; turn it off first to enrol a new device');
      }
      const { secret, uri } = newTotpSecret(user.email);
      const row = { secret_sealed: seal(secret, serverKey), confirmed_at: null, last_step: null };
      await db
        .insertInto('two_factor')
        .values({ user_id: user.id, ...row, created_at: clock() })
        .onConflict((oc) =>
          oc.column('user_id').doUpdateSet(row).where('two_factor.confirmed_at', 'is', null),
        )
        .execute();
      return { secret, otpauth_uri: uri };
    },

    async confirmTwoFactor(user, code, meta) {
      const current = await stateOf(user.id);
      if (current === undefined || current.confirmed_at !== null) {
        throw new AppError(
          'conflict',
          current === undefined
            ? 'No two-factor enrolment is pending; start one with POST /v1/me/two-factor'
            : 'Two-factor is already on',
        );
      }
      // A wrong code counts as a failed sign-in of this account (docs/accounts.md#two-factor).
      const attempt = await throttle.begin(user.email, meta.ip);
      const codes = newRecoveryCodes();
      const confirmed = await db.transaction().execute(async (tx) => {
        if (!(await acceptCode(tx, user.id, current.secret_sealed, code))) return false;
        const done = await tx
          .updateTable('two_factor')
          .set({ confirmed_at: clock() })
          .where('user_id', '=', user.id)
          .where('confirmed_at', 'is', null)
          .where('secret_sealed', '=', current.secret_sealed)
          .executeTakeFirst();
        if (Number(done.numUpdatedRows) !== 1) return false;
        await tx.deleteFrom('recovery_codes').where('user_id', '=', user.id).execute();
        await tx
          .insertInto('recovery_codes')
          .values(
            codes.map((c) => ({ digest: digest(normaliseRecoveryCode(c)), user_id: user.id, used_at: null })),
          )
          .execute();
        await recordInEveryWorkspace(tx, audit, {
          user,
          event: 'member.two_factor_changed',
          changes: { two_factor_enabled: { from: false, to: true } },
          meta,
        });
        return true;
      });
      if (!confirmed)
        throw badField('code', 'This code is not valid for the pending secret (or was already used)');
      await throttle.withdraw(attempt);
      return codes;
    },

    async disableTwoFactor(user, input, meta) {
      const current = await stateOf(user.id);
      if (current?.confirmed_at == null) throw new AppError('conflict', 'Two-factor is not on');
      const attempt = await throttle.begin(user.email, meta.ip);
      const stored = await db
        .selectFrom('users')
        .select('password_hash')
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      const passwordOk = await verifyPassword(stored.password_hash, input.password);
      const factor: SecondFactor = /^\d{6}$/.test(input.code)
        ? { code: input.code }
        : { recoveryCode: input.code };
      // The code is spent only when the password is right, so a wrong password burns nothing.
      if (!passwordOk || !(await acceptFactor(user.id, current.secret_sealed, factor))) {
        throw new AppError('bad_request', 'The password or the code is not right', {
          details: [{ field: 'code', message: 'password or code is not right' }],
        });
      }
      await db.transaction().execute(async (tx) => {
        await tx.deleteFrom('two_factor').where('user_id', '=', user.id).execute();
        await tx.deleteFrom('recovery_codes').where('user_id', '=', user.id).execute();
        await tx.deleteFrom('login_challenges').where('user_id', '=', user.id).execute();
        await recordInEveryWorkspace(tx, audit, {
          user,
          event: 'member.two_factor_changed',
          changes: { two_factor_enabled: { from: true, to: false } },
          meta,
        });
      });
      await throttle.withdraw(attempt);
    },

    async hasTwoFactor(userId) {
      return (await stateOf(userId))?.confirmed_at != null;
    },

    async issueChallenge(userId) {
      const challenge = randomSecret();
      const now = clock();
      await db.deleteFrom('login_challenges').where('expires_at', '<=', now).execute();
      await db
        .insertInto('login_challenges')
        .values({
          digest: digest(challenge),
          user_id: userId,
          failures: 0,
          expires_at: now + CHALLENGE_TTL_MS,
        })
        .execute();
      return challenge;
    },

    async completeChallenge(challenge, factor, ip) {
      const presented = digest(challenge);
      const row = await db
        .selectFrom('login_challenges')
        .innerJoin('users', 'users.id', 'login_challenges.user_id')
        .innerJoin('two_factor', 'two_factor.user_id', 'login_challenges.user_id')
        .select([
          'login_challenges.digest',
          'login_challenges.expires_at',
          'users.id',
          'users.email',
          'users.name',
          'users.created_at',
          'two_factor.secret_sealed',
        ])
        .where('login_challenges.digest', '=', presented)
        .executeTakeFirst();
      if (row === undefined || row.expires_at <= clock() || !constantTimeEqual(row.digest, presented)) {
        // Counted as a failure of the client's address (429 once its budget is spent).
        await throttle.beginSignup(ip);
        throw new AppError(
          'unauthorized',
          'This sign-in challenge is unknown, used or expired; sign in again',
        );
      }
      const attempt = await throttle.begin(row.email, ip);
      if (!(await acceptFactor(row.id, row.secret_sealed, factor))) {
        const bumped = await db
          .updateTable('login_challenges')
          .set((eb) => ({ failures: eb('failures', '+', 1) }))
          .where('digest', '=', presented)
          .returning('failures')
          .executeTakeFirst();
        if (bumped === undefined || bumped.failures >= CHALLENGE_MAX_FAILURES) {
          await db.deleteFrom('login_challenges').where('digest', '=', presented).execute();
        }
        throw new AppError('unauthorized', 'Invalid two-factor code');
      }
      // Single use: of two requests with one challenge, only the one that deletes it signs in.
      const taken = await db
        .deleteFrom('login_challenges')
        .where('digest', '=', presented)
        .executeTakeFirst();
      if (Number(taken.numDeletedRows) !== 1) {
        throw new AppError(
          'unauthorized',
          'This sign-in challenge is unknown, used or expired; sign in again',
        );
      }
      await throttle.succeed(attempt);
      return { id: row.id, email: row.email, name: row.name, created_at: row.created_at };
    },
  };
}
