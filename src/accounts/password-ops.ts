import type { AuditService, RequestMeta } from '../audit/service.js';
import { constantTimeEqual, digest } from '../auth/credentials.js';
import type { User } from '../auth/sessions.js';
import type { Clock } from '../clock.js';
import type { Db, PasswordResetsTable } from '../db/schema.js';
import { queuePasswordResetEmail } from '../email/outbox.js';
import { badField } from '../errors.js';
import type { LoginThrottle } from './login-throttle.js';
import { recordInEveryWorkspace } from './member-audit.js';
import { createPasswordReset, sealedResetLink } from './password-reset.js';
import { hashPassword, verifyPassword } from './passwords.js';

export type Meta = RequestMeta & { ip: string };

export interface PasswordOps {
  /** Changes the signed-in person's password; every other session of theirs ends. */
  changePassword(
    user: User,
    input: { currentPassword: string; newPassword: string; keepSession: string },
    meta: Meta,
  ): Promise<void>;
  /** Queues a reset email when the address has an account; answers the same either way. */
  requestPasswordReset(email: string, meta: Meta): Promise<void>;
  /** Sets a new password with a reset link's token; every session of the user ends. */
  confirmPasswordReset(input: { token: string; newPassword: string }, meta: Meta): Promise<void>;
  /** The link of a reset whose email is still to be sent (for the email sender). */
  resetUrl(reset: Pick<PasswordResetsTable, 'secret_sealed'>): string | null;
}

interface Deps {
  db: Db;
  clock: Clock;
  audit: AuditService;
  throttle: LoginThrottle;
  serverKey: Buffer;
  publicUrl: string;
  normaliseEmail(email: string): string;
}

const badToken = () =>
  badField(
    'token',
    'This password-reset link is not valid: it was already used, replaced by a newer one, or it expired (links work for 30 minutes). Ask for a new one.',
  );

export function createPasswordOps(deps: Deps): PasswordOps {
  const { db, clock, audit, throttle, serverKey, publicUrl } = deps;
  return {
    async changePassword(user, input, meta) {
      // A wrong current password counts as a failed sign-in of this account and address.
      const attempt = await throttle.begin(user.email, meta.ip);
      const row = await db
        .selectFrom('users')
        .select('password_hash')
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      if (!(await verifyPassword(row.password_hash, input.currentPassword))) {
        throw badField('current_password', 'The current password is not right');
      }
      const passwordHash = await hashPassword(input.newPassword);
      await db.transaction().execute(async (tx) => {
        await tx
          .updateTable('users')
          .set({ password_hash: passwordHash })
          .where('id', '=', user.id)
          .execute();
        await tx
          .deleteFrom('sessions')
          .where('user_id', '=', user.id)
          .where('id_digest', '!=', input.keepSession)
          .execute();
        await tx.deleteFrom('password_resets').where('user_id', '=', user.id).execute();
        await recordInEveryWorkspace(tx, audit, {
          user,
          event: 'member.password_changed',
          changes: null,
          meta,
        });
      });
      await throttle.withdraw(attempt);
    },

    async requestPasswordReset(rawEmail, meta) {
      const email = deps.normaliseEmail(rawEmail);
      await throttle.countReset(email, meta.ip);
      const user = await db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
      if (user === undefined) return;
      const now = clock();
      await db.transaction().execute(async (tx) => {
        const reset = await createPasswordReset(tx, { userId: user.id, now, sealWith: serverKey });
        await queuePasswordResetEmail(tx, { resetId: reset.id, to: email, now });
      });
    },

    async confirmPasswordReset(input, meta) {
      const presented = digest(input.token);
      const now = clock();
      const reset = await db
        .selectFrom('password_resets')
        .innerJoin('users', 'users.id', 'password_resets.user_id')
        .select([
          'password_resets.id as reset_id',
          'password_resets.digest',
          'password_resets.expires_at',
          'password_resets.used_at',
          'users.id',
          'users.email',
          'users.name',
          'users.created_at',
        ])
        .where('password_resets.digest', '=', presented)
        .executeTakeFirst();
      if (
        reset === undefined ||
        reset.used_at !== null ||
        reset.expires_at <= now ||
        !constantTimeEqual(reset.digest, presented)
      ) {
        throw badToken();
      }
      const passwordHash = await hashPassword(input.newPassword);
      const user: User = { id: reset.id, email: reset.email, name: reset.name, created_at: reset.created_at };
      await db.transaction().execute(async (tx) => {
        // Conditional: of two requests with one link, only one changes the password.
        const used = await tx
          .updateTable('password_resets')
          .set({ used_at: now, secret_sealed: null })
          .where('id', '=', reset.reset_id)
          .where('used_at', 'is', null)
          .executeTakeFirst();
        if (Number(used.numUpdatedRows) !== 1) throw badToken();
        await tx
          .updateTable('users')
          .set({ password_hash: passwordHash })
          .where('id', '=', user.id)
          .execute();
        await tx.deleteFrom('sessions').where('user_id', '=', user.id).execute();
        await tx.deleteFrom('login_challenges').where('user_id', '=', user.id).execute();
        await recordInEveryWorkspace(tx, audit, {
          user,
          event: 'member.password_changed',
          changes: null,
          meta,
        });
      });
      // The account's failed sign-ins are forgiven: its owner just proved control of the address.
      await db
        .deleteFrom('login_failures')
        .where('kind', '=', 'email')
        .where('subject', '=', user.email)
        .execute();
    },

    resetUrl: (reset) => sealedResetLink(publicUrl, serverKey, reset),
  };
}
