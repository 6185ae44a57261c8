import { Type } from 'typebox';
import { Name, NullableTimestamp, RoleSchema, Timestamp } from '../http/schemas.js';

const Kind = Type.Union([Type.Literal('personal'), Type.Literal('team')]);

export const ApiKeyBody = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    kind: Kind,
    role: RoleSchema,
    user_id: Type.Union([Type.String(), Type.Null()]),
    hint: Type.String(),
    created_at: Timestamp,
    created_by: Type.String(),
    last_used_at: NullableTimestamp,
  },
  { title: 'ApiKey' },
);

export const ApiKeyWithSecret = Type.Intersect([ApiKeyBody, Type.Object({ key: Type.String() })], {
  title: 'ApiKeyWithSecret',
});

export const CreateApiKeyBody = Type.Object(
  {
    name: Name,
    kind: Kind,
    role: Type.Optional(Type.Union([Type.Literal('admin'), Type.Literal('viewer')])),
  },
  {
    additionalProperties: false,
    title: 'CreateApiKeyRequest',
    examples: [{ name: 'ci', kind: 'team', role: 'admin' }],
  },
);
