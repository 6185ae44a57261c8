import { Type } from 'typebox';
import { WEBHOOK_EVENTS } from '../events/catalog.js';
import { displayText, NullableTimestamp, Timestamp } from '../http/schemas.js';

const EventName = Type.Union(WEBHOOK_EVENTS.map((event) => Type.Literal(event)));
const Url = Type.String({ minLength: 1, maxLength: 2048 });
const Description = displayText({ maxLength: 500 });

export const WebhookBody = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    description: Type.String(),
    events: Type.Array(Type.String()),
    enabled: Type.Boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
    failing_since: NullableTimestamp,
  },
  { title: 'Webhook' },
);

export const WebhookWithSecret = Type.Intersect([WebhookBody, Type.Object({ secret: Type.String() })], {
  title: 'WebhookWithSecret',
});

export const CreateWebhookBody = Type.Object(
  {
    url: Url,
    description: Type.Optional(Description),
    events: Type.Array(EventName, { minItems: 1, maxItems: 50 }),
    enabled: Type.Optional(Type.Boolean()),
  },
  {
    additionalProperties: false,
    title: 'CreateWebhookRequest',
    examples: [{ url: 'https://hooks.example.com/tooken', events: ['token.revoked', 'token.rotated'] }],
  },
);

export const UpdateWebhookBody = Type.Object(
  {
    url: Type.Optional(Url),
    description: Type.Optional(Description),
    events: Type.Optional(Type.Array(EventName, { minItems: 1, maxItems: 50 })),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, title: 'UpdateWebhookRequest' },
);

export const DeliveryBody = Type.Object(
  {
    id: Type.String(),
    event_id: Type.String(),
    event: Type.String(),
    status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
    attempts: Type.Array(
      Type.Object({
        at: Timestamp,
        status_code: Type.Union([Type.Integer(), Type.Null()]),
        latency_ms: Type.Integer(),
        error: Type.Union([Type.String(), Type.Null()]),
        response_excerpt: Type.Union([Type.String(), Type.Null()]),
      }),
    ),
    next_attempt_at: NullableTimestamp,
    created_at: Timestamp,
  },
  { title: 'Delivery' },
);
