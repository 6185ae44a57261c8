import { Type } from 'typebox';

/** The TypeBox schemas of a token's limits and external id (docs/tokens.md#limits). */

export const ExternalId = Type.String({ minLength: 1, maxLength: 255 });

const Interval = Type.Union([Type.Literal('day'), Type.Literal('month')]);
const Refill = Type.Object(
  { amount: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }), interval: Interval },
  { additionalProperties: false },
);
const MAX_USES = 1_000_000_000_000;

const UsesInput = Type.Object(
  {
    remaining: Type.Integer({ minimum: 0, maximum: MAX_USES }),
    refill: Type.Optional(Type.Union([Refill, Type.Null()])),
  },
  { additionalProperties: false },
);
const Rate = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }),
    window_seconds: Type.Integer({ minimum: 1, maximum: 86_400 }),
  },
  { additionalProperties: false },
);

export const LimitsInput = Type.Object(
  {
    uses: Type.Optional(Type.Union([UsesInput, Type.Null()])),
    rate: Type.Optional(Type.Union([Rate, Type.Null()])),
  },
  {
    additionalProperties: false,
    title: 'TokenLimitsRequest',
    examples: [{ uses: { remaining: 1000, refill: { amount: 1000, interval: 'month' } } }],
  },
);

export const LimitsBody = Type.Object(
  {
    uses: Type.Union([
      Type.Object({
        remaining: Type.Integer(),
        refill: Type.Union([Type.Object({ amount: Type.Integer(), interval: Interval }), Type.Null()]),
      }),
      Type.Null(),
    ]),
    rate: Type.Union([Type.Object({ limit: Type.Integer(), window_seconds: Type.Integer() }), Type.Null()]),
  },
  { title: 'TokenLimits' },
);
