import { Type } from 'typebox';
import { Name, RoleSchema, Timestamp } from '../http/schemas.js';

export const Email = Type.String({ format: 'email', maxLength: 254 });
export const Password = Type.String({ minLength: 10, maxLength: 256 });

export const UserBody = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    created_at: Timestamp,
  },
  { title: 'User' },
);

/** The `token` of an invitation link (URL-safe base64). */
export const InvitationToken = Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' });

export const SignupBody = Type.Object(
  {
    email: Email,
    password: Password,
    name: Type.Optional(Name),
    invitation_token: Type.Optional(InvitationToken),
  },
  {
    additionalProperties: false,
    title: 'SignupRequest',
    examples: [{ email: 'alice@example.com', password: 'correct horse battery' }],
  },
);

export const LoginBody = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false, title: 'LoginRequest' },
);

export const SignedInBody = Type.Object({ user: UserBody, csrf_token: Type.String() }, { title: 'SignedIn' });

/** A random secret handed out by the server (a sign-in challenge, a reset link's token). */
const ServerSecret = Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' });
const TotpCode = Type.String({
  pattern: '^[0-9]{6}$',
  description: 'The 6-digit code of the authenticator app',
});
const RecoveryCode = Type.String({ minLength: 1, maxLength: 64 });

export const ChallengeBody = Type.Object(
  {
    two_factor_required: Type.Literal(true),
    challenge: Type.String({ description: 'Send it with a code to POST /v1/auth/login/two-factor' }),
  },
  { title: 'TwoFactorChallenge' },
);

export const LoginResultBody = Type.Union([SignedInBody, ChallengeBody], { title: 'LoginResult' });

export const LoginTwoFactorBody = Type.Object(
  { challenge: ServerSecret, code: Type.Optional(TotpCode), recovery_code: Type.Optional(RecoveryCode) },
  { additionalProperties: false, title: 'LoginTwoFactorRequest' },
);

export const ChangePasswordBody = Type.Object(
  { current_password: Type.String({ minLength: 1, maxLength: 256 }), new_password: Password },
  { additionalProperties: false, title: 'ChangePasswordRequest' },
);

export const PasswordResetBody = Type.Object(
  { email: Email },
  { additionalProperties: false, title: 'PasswordResetRequest' },
);

export const PasswordResetConfirmBody = Type.Object(
  { token: ServerSecret, new_password: Password },
  { additionalProperties: false, title: 'PasswordResetConfirmRequest' },
);

export const TwoFactorSetupBody = Type.Object(
  {
    secret: Type.String({ description: 'Base32 TOTP secret, shown once' }),
    otpauth_uri: Type.String({ description: 'otpauth://totp/… for a QR code' }),
  },
  { title: 'TwoFactorSetup' },
);

export const TwoFactorConfirmBody = Type.Object(
  { code: TotpCode },
  { additionalProperties: false, title: 'TwoFactorConfirmRequest' },
);

export const RecoveryCodesBody = Type.Object(
  { recovery_codes: Type.Array(Type.String(), { description: 'Ten single-use codes, shown once' }) },
  { title: 'RecoveryCodes' },
);

export const TwoFactorDisableBody = Type.Object(
  {
    password: Type.String({ minLength: 1, maxLength: 256 }),
    code: Type.String({ minLength: 1, maxLength: 64, description: 'A code of the app, or a recovery code' }),
  },
  { additionalProperties: false, title: 'TwoFactorDisableRequest' },
);

export const SessionBody = Type.Object(
  {
    id: Type.String(),
    created_at: Timestamp,
    last_seen_at: Timestamp,
    user_agent: Type.Union([Type.String(), Type.Null()]),
    ip: Type.Union([Type.String(), Type.Null()]),
    current: Type.Boolean(),
  },
  { title: 'Session' },
);

export const SessionListBody = Type.Object({ data: Type.Array(SessionBody) }, { title: 'SessionList' });

export const MeBody = Type.Object(
  {
    user: Type.Object({ ...UserBody.properties, two_factor_enabled: Type.Boolean() }, { title: 'MeUser' }),
    csrf_token: Type.String(),
    workspaces: Type.Array(
      Type.Object({
        id: Type.String(),
        name: Type.String(),
        slug: Type.String(),
        role: RoleSchema,
        two_factor_required: Type.Boolean(),
      }),
    ),
  },
  { title: 'Me' },
);
