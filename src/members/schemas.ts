import { Type } from 'typebox';
import { RoleSchema, Timestamp } from '../http/schemas.js';

export const MemberBody = Type.Object(
  {
    user_id: Type.String(),
    email: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    role: RoleSchema,
    joined_at: Timestamp,
  },
  { title: 'Member' },
);

export const ChangeRoleBody = Type.Object(
  { role: RoleSchema },
  { additionalProperties: false, title: 'ChangeRoleRequest' },
);
