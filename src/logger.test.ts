import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSecret, randomSecret } from './auth/credentials.js';
import { newId } from './ids.js';
import { redactSecrets } from './logger.js';
import { generateWebhookSecret } from './webhooks/signing.js';

describe('redactSecrets', () => {
  it('keeps the prefix of tokens, API keys and webhook secrets and drops the rest, wherever they are', () => {
    const token = generateSecret('token');
    const key = generateSecret('api_key');
    const whsec = generateWebhookSecret();
    const line = JSON.stringify({ path: `/v1/tokens/${token}`, msg: `bad ${key}; ${whsec}.` });
    expect(JSON.parse(redactSecrets(line))).toEqual({
      path: '/v1/tokens/tkn_[redacted]',
      msg: 'bad tok_live_[redacted]; whsec_[redacted].',
    });
  });

  // `/` belongs to base64, so what follows a raw or encoded secret in a path goes too: more is lost
  // from the line, never part of a secret kept.
  it('redacts a webhook secret URL-encoded in a path or with JSON-escaped slashes', () => {
    const whsec = `whsec_${randomBytes(32).toString('base64')}`;
    expect(redactSecrets(`/v1/webhooks/${encodeURIComponent(whsec)}/rotate`)).toBe(
      '/v1/webhooks/whsec_[redacted]',
    );
    expect(redactSecrets(`"${whsec.replaceAll('/', '\\/')}"`)).toBe('"whsec_[redacted]"');
  });

  it('redacts session and invitation secrets, which have no prefix', () => {
    const secret = randomSecret();
    expect(redactSecrets(`/v1/tokens/${secret}?`)).toBe('/v1/tokens/[redacted]?');
  });

  it('leaves ids, slugs, digests, hints, times and stacks alone', () => {
    const untouched = [
      newId('tok'),
      newId('req'),
      'tok_live_8fJ2…3f',
      'tkn_AbC…9z',
      'acme-production-platform-team-for-the-whole-company',
      'a3f1c2e4b5d6a7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70',
      '2026-01-15T09:00:00.000Z',
      'at SqliteConnection.executeQuery (file:///work/node_modules/kysely/dist/esm/dialect/sqlite/sqlite-driver.js:68:51)',
      'FST_ERR_CTP_INVALID_MEDIA_TYPE_FOR_THE_REQUEST_BODY_PARSER',
    ];
    for (const text of untouched) expect(redactSecrets(text)).toBe(text);
  });
});
