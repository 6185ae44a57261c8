import { Type } from 'typebox';
import { Timestamp } from '../http/schemas.js';

export const RoleSchema = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('viewer')]);

export const MemberBody = Type.Object({
  user_id: Type.String(),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  role: RoleSchema,
  joined_at: Timestamp,
});

export const MemberParams = Type.Object({
  slug: Type.Optional(Type.String({ maxLength: 200 })),
  user_id: Type.String({ maxLength: 100 }),
});

export const ChangeRoleBody = Type.Object({ role: RoleSchema }, { additionalProperties: false });

export const InvitationBody = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: RoleSchema,
  status: Type.String(),
  expires_at: Timestamp,
  invited_by: Type.String(),
  created_at: Timestamp,
  accept_url: Type.Optional(Type.String()),
});

export const CreateInvitationBody = Type.Object(
  { email: Type.String({ format: 'email', maxLength: 254 }), role: RoleSchema },
  { additionalProperties: false },
);

export const InvitationParams = Type.Object({
  slug: Type.Optional(Type.String({ maxLength: 200 })),
  id: Type.String({ maxLength: 100 }),
});

export const AcceptBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

export const AcceptedBody = Type.Object({
  workspace: Type.Object({ id: Type.String(), name: Type.String(), slug: Type.String(), role: RoleSchema }),
});
