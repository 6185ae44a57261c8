import { Type } from 'typebox';
import { Name, NullableTimestamp, PageQuery, Timestamp } from '../http/schemas.js';
import { MAX_GRACE_SECONDS } from './input.js';

const Status = Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]);
const Metadata = Type.Object({}, { additionalProperties: true });
const Scope = Type.String({ minLength: 1, maxLength: 100 });

export const TokenBody = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    scopes: Type.Array(Type.String()),
    status: Status,
    created_at: Timestamp,
    expires_at: NullableTimestamp,
    last_used_at: NullableTimestamp,
    revoked_at: NullableTimestamp,
    rotated_at: NullableTimestamp,
    created_by: Type.String(),
    created_by_id: Type.String(),
    metadata: Metadata,
    hint: Type.String(),
  },
  { title: 'Token' },
);

export const TokenWithSecret = Type.Intersect([TokenBody, Type.Object({ token: Type.String() })], {
  title: 'TokenWithSecret',
});

export const CreateTokenBody = Type.Object(
  {
    name: Name,
    scopes: Type.Array(Scope, { minItems: 1, maxItems: 200 }),
    expires_at: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
    metadata: Type.Optional(Metadata),
  },
  {
    additionalProperties: false,
    title: 'CreateTokenRequest',
    examples: [{ name: 'orders-service', scopes: ['tokens:verify'], metadata: { team: 'orders' } }],
  },
);

export const ListTokensQuery = Type.Object(
  {
    ...PageQuery.properties,
    status: Type.Optional(Status),
    name: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const RotateBody = Type.Union(
  [
    Type.Object(
      { grace_period_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_GRACE_SECONDS })) },
      { additionalProperties: false },
    ),
    Type.Null(),
  ],
  { title: 'RotateTokenRequest', examples: [{ grace_period_seconds: 3600 }] },
);

export const VerifyBody = Type.Object(
  {
    token: Type.String(),
    scopes: Type.Optional(Type.Array(Scope, { maxItems: 200 })),
  },
  {
    additionalProperties: false,
    title: 'VerifyRequest',
    examples: [{ token: 'tkn_…', scopes: ['orders:read'] }],
  },
);

export const VerifyResponse = Type.Object(
  {
    valid: Type.Boolean(),
    code: Type.Union([
      Type.Literal('VALID'),
      Type.Literal('NOT_FOUND'),
      Type.Literal('EXPIRED'),
      Type.Literal('REVOKED'),
      Type.Literal('INSUFFICIENT_SCOPE'),
      Type.Literal('RATE_LIMITED'),
    ]),
    token: Type.Optional(
      Type.Object({
        id: Type.String(),
        name: Type.String(),
        scopes: Type.Array(Type.String()),
        expires_at: NullableTimestamp,
        metadata: Metadata,
      }),
    ),
    valid_until: Type.Union([Timestamp, Type.Null()], {
      description:
        'When VALID: the earliest instant this exact secret stops being valid without any further change (its expiry, or the end of a rotation grace); otherwise null.',
    }),
  },
  {
    title: 'VerifyResult',
    examples: [
      {
        valid: true,
        code: 'VALID',
        token: {
          id: 'tok_2x8k4m1q9z7v3c5b6n0p1r2s',
          name: 'orders-service',
          scopes: ['orders:read'],
          expires_at: '2027-01-15T09:00:00.000Z',
          metadata: { team: 'orders' },
        },
        valid_until: '2027-01-15T09:00:00.000Z',
      },
    ],
  },
);
