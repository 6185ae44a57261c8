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

export const MeBody = Type.Object(
  {
    user: UserBody,
    csrf_token: Type.String(),
    workspaces: Type.Array(
      Type.Object({
        id: Type.String(),
        name: Type.String(),
        slug: Type.String(),
        role: RoleSchema,
      }),
    ),
  },
  { title: 'Me' },
);
