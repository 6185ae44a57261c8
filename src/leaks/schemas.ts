import { Type } from 'typebox';

/** At most this many secrets in one report: one request never costs more than that many look-ups. */
export const MAX_SECRETS_PER_REPORT = 100;

/**
 * One finding. `type`, `url` and `source` are what secret-scanning services add to a finding; they
 * are accepted and ignored (a URL may itself hold the secret, so none of them is kept).
 */
const Finding = Type.Object(
  {
    token: Type.String({ maxLength: 1000, description: 'The string found: a tkn_… or tok_live_… secret' }),
    type: Type.Optional(Type.String({ maxLength: 200 })),
    url: Type.Optional(Type.String({ maxLength: 2048 })),
    source: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false, title: 'LeakFinding' },
);

export const LeakReportBody = Type.Union(
  [Finding, Type.Array(Finding, { minItems: 1, maxItems: MAX_SECRETS_PER_REPORT })],
  { title: 'LeakReport', examples: [{ token: 'tkn_…', url: 'https://github.com/acme/app/blob/main/.env' }] },
);

export const ReceivedBody = Type.Object({ received: Type.Literal(true) }, { title: 'LeakReportReceived' });
