import { describe, expect, it } from 'vitest';
import { insufficientScope, missingCredential, rateLimited, unavailable } from './refusals.js';

describe('refusals', () => {
  it('challenges a missing credential without an error code, with the realm when one is set', () => {
    expect(missingCredential().headers).toEqual({ 'www-authenticate': 'Bearer' });
    expect(missingCredential('orders').headers).toEqual({ 'www-authenticate': 'Bearer realm="orders"' });
  });

  it('lists the required scopes space-separated in one quoted scope parameter', () => {
    expect(insufficientScope(['a:read', 'b:write']).headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", scope="a:read b:write"',
    );
  });

  it('waits until the token’s rate limit resets, at least one second', () => {
    const limit = { limit: 5, remaining: 0, reset: 1_000 };
    expect(rateLimited(limit, 970_500).headers['retry-after']).toBe('30');
    expect(rateLimited(limit, 999_999).headers['retry-after']).toBe('1');
    expect(rateLimited(limit, 1_200_000).headers['retry-after']).toBe('1');
  });

  it('says when to try again after Tooken was unavailable', () => {
    expect(unavailable(7)).toMatchObject({ status: 503, headers: { 'retry-after': '7' } });
  });
});
