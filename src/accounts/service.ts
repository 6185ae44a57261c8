import type { AuditService } from '../audit/service.js';
import { constantTimeEqual, digest } from '../auth/credentials.js';
import type { SessionOrigin, SessionStore, User } from '../auth/sessions.js';
import type { Clock } from '../clock.js';
import type { SignupMode } from '../config.js';
import { isUniqueViolation } from '../db/database.js';
import type { Db, Role } from '../db/schema.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import type { LoginThrottle } from './login-throttle.js';
import { createPasswordOps, type PasswordOps } from './password-ops.js';
import { DUMMY_HASH_INPUT, hashPassword, verifyPassword } from './passwords.js';
import { createSessionOps, type SessionOps } from './session-ops.js';
import { createTwoFactorOps, type SecondFactor, type TwoFactorOps } from './two-factor.js';

export interface SignedIn {
  user: User;
  sessionSecret: string;
  csrfToken: string;
}

/** The first step of a sign-in with two-factor on: no session yet, a challenge for the second. */
export interface ChallengeIssued {
  twoFactorRequired: true;
  challenge: string;
}

/** Where a request comes from: the session it opens records it. */
type Origin = SessionOrigin & { ip: string };

export interface AccountService extends PasswordOps, TwoFactorOps, SessionOps {
  signup(input: {
    email: string;
    password: string;
    name?: string | undefined;
    /** The secret of an invitation link sent to `email`: how an invited person signs up. */
    invitationToken?: string | undefined;
    origin: Origin;
  }): Promise<SignedIn>;
  login(input: { email: string; password: string; origin: Origin }): Promise<SignedIn | ChallengeIssued>;
  /** The second step: a challenge and a code (or a recovery code) open the session. */
  loginTwoFactor(input: { challenge: string; factor: SecondFactor; origin: Origin }): Promise<SignedIn>;
  workspacesOf(
    userId: string,
  ): Promise<{ id: string; name: string; slug: string; role: Role; two_factor_required: boolean }[]>;
}

interface Deps {
  db: Db;
  clock: Clock;
  sessions: SessionStore;
  throttle: LoginThrottle;
  signupMode: SignupMode;
  audit: AuditService;
  /** Seals TOTP secrets and pending reset links. */
  serverKey: Buffer;
  /** Base of password-reset links. */
  publicUrl: string;
}

export const normaliseEmail = (email: string) => email.trim().toLowerCase();

export function createAccountService(deps: Deps): AccountService {
  const { db, clock, sessions, throttle, signupMode, audit, serverKey, publicUrl } = deps;
  const dummyHash = hashPassword(DUMMY_HASH_INPUT);
  const twoFactor = createTwoFactorOps({ db, clock, audit, throttle, serverKey });

  /** Whether `token` is the link of a pending, unexpired invitation sent to `email`. */
  const invitedWith = async (email: string, token: string): Promise<boolean> => {
    const invitation = await db
      .selectFrom('invitations')
      .select('email')
      .where('digest', '=', digest(token))
      .where('status', '=', 'pending')
      .where('expires_at', '>', clock())
      .executeTakeFirst();
    return invitation !== undefined && constantTimeEqual(invitation.email, email);
  };

  /**
   * Who may sign up (docs/accounts.md#signing-up), and why ('first': the installation has no user
   * yet). An invited person always may, but only with the invitation's link: the address alone is
   * listed to every member of the workspace. A link that is given must be valid in every mode.
   */
  const maySignUp = async (
    email: string,
    token: string | undefined,
  ): Promise<'open' | 'first' | 'invited' | 'bad-invitation' | null> => {
    if (token !== undefined) return (await invitedWith(email, token)) ? 'invited' : 'bad-invitation';
    if (signupMode === 'open') return 'open';
    if (signupMode === 'first-user') {
      const anyUser = await db.selectFrom('users').select('id').limit(1).executeTakeFirst();
      if (anyUser === undefined) return 'first';
    }
    return null;
  };

  return {
    async signup(input) {
      const email = normaliseEmail(input.email);
      const closed = () =>
        new AppError(
          'forbidden',
          'Sign-up is closed on this installation; sign up with the link of an invitation sent to this address, or ask an Owner for one',
        );
      // Counted as a failure of this IP until it succeeds (docs/accounts.md#signing-in): the answers
      // tell whether an address is registered, and each refused attempt is work done for nothing.
      const attempt = await throttle.beginSignup(input.origin.ip);
      const allowed = await maySignUp(email, input.invitationToken);
      if (allowed === 'bad-invitation') {
        throw new AppError(
          'forbidden',
          'This invitation link does not open sign-up for this address: it was sent to another one, or it was used, revoked or replaced, or it expired',
        );
      }
      if (allowed === null) throw closed();
      const conflict = () => new AppError('conflict', 'An account with this email already exists');
      // Before hashing: a taken address must not cost an argon2id hash. The unique index below
      // still settles two sign-ups of one new address racing past this check.
      const existing = await db
        .selectFrom('users')
        .select('id')
        .where('email', '=', email)
        .executeTakeFirst();
      if (existing !== undefined) throw conflict();
      const passwordHash = await hashPassword(input.password);
      const user: User = { id: newId('usr'), email, name: input.name ?? null, created_at: clock() };
      try {
        await db
          .insertInto('users')
          .values({ ...user, password_hash: passwordHash })
          .execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict();
        throw error;
      }
      // "No user yet" was checked before the insert, so parallel sign-ups on an empty installation
      // could all pass it. Settled once inserted: the first user must be alone, or leaves again.
      if (allowed === 'first') {
        const { n } = await db
          .selectFrom('users')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        if (Number(n) > 1) {
          await db.deleteFrom('users').where('id', '=', user.id).execute();
          throw closed();
        }
      }
      const session = await sessions.create(user.id, input.origin);
      await throttle.succeed(attempt);
      return { user, sessionSecret: session.secret, csrfToken: session.csrfToken };
    },

    async login(input) {
      const email = normaliseEmail(input.email);
      const attempt = await throttle.begin(email, input.origin.ip);
      const row = await db
        .selectFrom('users')
        .select(['id', 'email', 'name', 'created_at', 'password_hash'])
        .where('email', '=', email)
        .executeTakeFirst();
      // Verify against a dummy hash for unknown emails so response time does not reveal accounts.
      const ok = await verifyPassword(row?.password_hash ?? (await dummyHash), input.password);
      // A failure is already counted (throttle.begin); only a success takes it back.
      if (row === undefined || !ok) throw new AppError('unauthorized', 'Invalid email or password');
      const { password_hash: _, ...user } = row;
      if (await twoFactor.hasTwoFactor(user.id)) {
        // The password was right: this attempt is taken back, but earlier failures stay counted
        // until the second step succeeds, so signing in again cannot reset the budget for codes.
        await throttle.withdraw(attempt);
        return { twoFactorRequired: true, challenge: await twoFactor.issueChallenge(user.id) };
      }
      await throttle.succeed(attempt);
      const session = await sessions.create(user.id, input.origin);
      return { user, sessionSecret: session.secret, csrfToken: session.csrfToken };
    },

    async loginTwoFactor(input) {
      const user = await twoFactor.completeChallenge(input.challenge, input.factor, input.origin.ip);
      const session = await sessions.create(user.id, input.origin);
      return { user, sessionSecret: session.secret, csrfToken: session.csrfToken };
    },

    async workspacesOf(userId) {
      const rows = await db
        .selectFrom('members')
        .innerJoin('workspaces', 'workspaces.id', 'members.workspace_id')
        .select([
          'workspaces.id',
          'workspaces.name',
          'workspaces.slug',
          'members.role',
          'workspaces.require_two_factor',
        ])
        .where('members.user_id', '=', userId)
        .orderBy('workspaces.created_at', 'desc')
        .execute();
      return rows.map(({ require_two_factor: required, ...ws }) => ({
        ...ws,
        two_factor_required: Number(required) === 1,
      }));
    },

    ...twoFactor,
    ...createPasswordOps({ db, clock, audit, throttle, serverKey, publicUrl, normaliseEmail }),
    ...createSessionOps({ db, clock }),
  };
}
