import { Type } from 'typebox';
import { RoleSchema, Timestamp } from '../http/schemas.js';

export const InvitationBody = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    role: RoleSchema,
    status: Type.String(),
    expires_at: Timestamp,
    invited_by: Type.String(),
    created_at: Timestamp,
    accept_url: Type.Optional(Type.String()),
  },
  { title: 'Invitation' },
);

export const CreateInvitationBody = Type.Object(
  { email: Type.String({ format: 'email', maxLength: 254 }), role: RoleSchema },
  {
    additionalProperties: false,
    title: 'CreateInvitationRequest',
    examples: [{ email: 'dana@example.com', role: 'admin' }],
  },
);

export const AcceptBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false, title: 'AcceptInvitationRequest' },
);

export const AcceptedBody = Type.Object(
  {
    workspace: Type.Object({ id: Type.String(), name: Type.String(), slug: Type.String(), role: RoleSchema }),
  },
  { title: 'AcceptedInvitation' },
);
