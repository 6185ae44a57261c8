import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createTestApp,
  dialects,
  type Json,
  json,
  ownerWorkspace,
  type TestApp,
} from '../helpers.js';

const HOUR_MS = 3_600_000;

/** `valid_until` in the verify answer: when this exact secret stops being valid without any change. */
describe.each(dialects())('%s: valid_until', (dialect) => {
  let t: TestApp;
  let key: string;
  beforeAll(async () => {
    t = await createTestApp(dialect);
    key = (await ownerWorkspace(t.app, { key: 'team' })).key.key;
  });
  afterAll(() => t.close());

  const create = async (payload: Json) =>
    json(await t.app.inject({ method: 'POST', url: '/v1/tokens', headers: bearer(key), payload }));
  const verify = async (token: string, scopes?: string[]) =>
    json(
      await t.app.inject({
        method: 'POST',
        url: '/v1/tokens/verify',
        headers: bearer(key),
        payload: scopes ? { token, scopes } : { token },
      }),
    );

  it('is the expiry of a token that expires, and null for one that never does', async () => {
    const expiresAt = new Date(t.clock.now() + 2 * HOUR_MS).toISOString();
    const expiring = await create({ name: 'expiring', scopes: ['tokens:read'], expires_at: expiresAt });
    expect(await verify(expiring.token)).toMatchObject({ code: 'VALID', valid_until: expiresAt });
    const forever = await create({ name: 'forever', scopes: ['tokens:read'], expires_at: null });
    expect(await verify(forever.token)).toMatchObject({ code: 'VALID', valid_until: null });
  });

  it('is the end of the rotation grace for the old secret, whichever comes first', async () => {
    const expiresAt = new Date(t.clock.now() + 2 * HOUR_MS).toISOString();
    const token = await create({ name: 'rotating', scopes: ['tokens:read'], expires_at: expiresAt });
    const rotated = json(
      await t.app.inject({
        method: 'POST',
        url: `/v1/tokens/${token.id}/rotate`,
        headers: bearer(key),
        payload: { grace_period_seconds: 600 },
      }),
    );
    const graceEnd = new Date(t.clock.now() + 600_000).toISOString();
    expect(await verify(token.token)).toMatchObject({ code: 'VALID', valid_until: graceEnd });
    expect(await verify(rotated.token)).toMatchObject({ code: 'VALID', valid_until: expiresAt });
    t.clock.advance(600_000);
    expect(await verify(token.token)).toMatchObject({ code: 'NOT_FOUND', valid_until: null });
  });

  it('is null on every answer that is not VALID', async () => {
    const token = await create({ name: 'narrow', scopes: ['tokens:read'] });
    expect(await verify(token.token, ['tokens:write'])).toMatchObject({
      code: 'INSUFFICIENT_SCOPE',
      valid_until: null,
    });
    expect(await verify('tkn_nothing')).toEqual({ valid: false, code: 'NOT_FOUND', valid_until: null });
    await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${token.id}`, headers: bearer(key) });
    expect(await verify(token.token)).toMatchObject({ code: 'REVOKED', valid_until: null });
  });
});
