import { Type } from 'typebox';

/** The schemas of the change stream and usage reports (docs/edge-verification.md). */

export const MAX_REPORTED_USES = 1000;

export const UsageReportBody = Type.Object(
  {
    uses: Type.Array(
      Type.Object(
        {
          token_id: Type.String({ minLength: 1, maxLength: 100 }),
          count: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }),
          last_used_at: Type.String({
            maxLength: 64,
            description: 'ISO 8601 date-time of the latest use; a later one than now counts as now',
          }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_REPORTED_USES },
    ),
  },
  {
    additionalProperties: false,
    title: 'UsageReport',
    examples: [
      {
        uses: [
          { token_id: 'tok_2x8k4m1q9z7v3c5b6n0p1r2s', count: 42, last_used_at: '2026-01-15T09:00:00.000Z' },
        ],
      },
    ],
  },
);

export const UsageReportReceived = Type.Object(
  { received: Type.Literal(true) },
  { title: 'UsageReportReceived' },
);

/** The event stream, as documented (the body is written by hand, never serialised from this). */
export const ChangeStreamResponse = {
  description:
    'Server-sent events: `event: invalidate` with `data: {"token_ids": [...]}`, `event: reset`, `event: end` with `data: {"reason": ...}` as the last event when the credential that opened the stream stops being valid, and a `: keep-alive` comment line every 15 s',
  content: { 'text/event-stream': { schema: { type: 'string' } } },
} as const;
