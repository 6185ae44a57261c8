import { Type } from 'typebox';
import { Name, RoleSchema, Timestamp } from '../http/schemas.js';

export const Email = Type.String({ format: 'email', maxLength: 254 });
export const Password = Type.String({ minLength: 10, maxLength: 256 });

export const UserBody = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
});

export const SignupBody = Type.Object(
  { email: Email, password: Password, name: Type.Optional(Name) },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);

export const SignedInBody = Type.Object({ user: UserBody, csrf_token: Type.String() });

export const MeBody = Type.Object({
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
});
