import { Type } from 'typebox';
import { Name } from '../http/schemas.js';
import { ExternalId, LimitsInput } from './limit-schemas.js';
import { Metadata, Scope } from './schemas.js';

/** The TypeBox schemas of `PATCH /tokens/{id}` and `POST /tokens/revoke` (docs/tokens.md#update). */

export const UpdateTokenBody = Type.Object(
  {
    name: Type.Optional(Name),
    scopes: Type.Optional(Type.Array(Scope, { minItems: 1, maxItems: 200 })),
    metadata: Type.Optional(Metadata),
    expires_at: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
    external_id: Type.Optional(Type.Union([ExternalId, Type.Null()])),
    limits: Type.Optional(Type.Union([LimitsInput, Type.Null()])),
  },
  {
    additionalProperties: false,
    title: 'UpdateTokenRequest',
    examples: [{ scopes: ['orders:read'], limits: { rate: { limit: 100, window_seconds: 60 } } }],
  },
);

export const MAX_BULK_REVOKE = 1000;

export const BulkRevokeBody = Type.Union(
  [
    Type.Object(
      {
        ids: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
          minItems: 1,
          maxItems: MAX_BULK_REVOKE,
        }),
      },
      { additionalProperties: false },
    ),
    Type.Object({ external_id: ExternalId }, { additionalProperties: false }),
  ],
  {
    title: 'BulkRevokeRequest',
    description: 'Exactly one of `ids` (1 to 1000 token ids) or `external_id`',
    examples: [{ ids: ['tok_2x8k4m1q9z7v3c5b6n0p1r2s'] }, { external_id: 'cus_123' }],
  },
);

export const BulkRevokeResponse = Type.Object(
  { revoked: Type.Integer({ minimum: 0, description: 'Tokens revoked by this request' }) },
  { title: 'BulkRevokeResult', examples: [{ revoked: 2 }] },
);
