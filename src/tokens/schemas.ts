import { Type } from 'typebox';
import { Name, NullableTimestamp, PageQuery, Timestamp } from '../http/schemas.js';
import { MAX_GRACE_SECONDS } from './input.js';
import { ExternalId, LimitsBody, LimitsInput } from './limit-schemas.js';

const Status = Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]);
export const Metadata = Type.Object({}, { additionalProperties: true });
export const Scope = Type.String({ minLength: 1, maxLength: 100 });

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
    external_id: Type.Union([Type.String(), Type.Null()]),
    limits: LimitsBody,
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
    external_id: Type.Optional(Type.Union([ExternalId, Type.Null()])),
    limits: Type.Optional(Type.Union([LimitsInput, Type.Null()])),
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
    scope: Type.Optional(Scope),
    external_id: Type.Optional(ExternalId),
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
      Type.Literal('USAGE_EXCEEDED'),
    ]),
    token: Type.Optional(
      Type.Object({
        id: Type.String(),
        name: Type.String(),
        scopes: Type.Array(Type.String()),
        expires_at: NullableTimestamp,
        metadata: Metadata,
        external_id: Type.Union([Type.String(), Type.Null()]),
      }),
    ),
    valid_until: Type.Union([Timestamp, Type.Null()], {
      description:
        'When VALID: the earliest instant this exact secret stops being valid without any further change (its expiry, or the end of a rotation grace); otherwise null.',
    }),
    remaining: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Uses left, for a token with a uses limit' }),
    ),
    ratelimit: Type.Optional(
      Type.Object(
        { limit: Type.Integer(), remaining: Type.Integer(), reset: Type.Integer() },
        { description: 'The token’s own rate limit: reset is a Unix time in seconds' },
      ),
    ),
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
          external_id: null,
        },
        valid_until: '2027-01-15T09:00:00.000Z',
      },
    ],
  },
);
