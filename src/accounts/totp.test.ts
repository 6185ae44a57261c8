import { Secret, TOTP } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { newRecoveryCodes, newTotpSecret, normaliseRecoveryCode, totpStep } from './totp.js';

const codeAt = (secret: string, timestamp: number) =>
  new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp });

describe('TOTP codes', () => {
  const now = Date.parse('2026-01-15T09:00:10.000Z');

  it('gives the step of a current code, and of the steps either side', () => {
    const { secret, uri } = newTotpSecret('alice@example.com');
    expect(uri).toMatch(/^otpauth:\/\/totp\/Tooken:alice%40example\.com\?/);
    const step = Math.floor(now / 30_000);
    expect(totpStep(secret, codeAt(secret, now), now)).toBe(step);
    expect(totpStep(secret, codeAt(secret, now - 30_000), now)).toBe(step - 1);
    expect(totpStep(secret, codeAt(secret, now + 30_000), now)).toBe(step + 1);
  });

  it('refuses a code two steps away, another secret’s code and anything but six digits', () => {
    const { secret } = newTotpSecret('a@example.com');
    const other = newTotpSecret('a@example.com').secret;
    expect(totpStep(secret, codeAt(secret, now - 90_000), now)).toBeNull();
    expect(totpStep(secret, codeAt(other, now), now)).toBeNull();
    expect(totpStep(secret, 'abcdef', now)).toBeNull();
    expect(totpStep(secret, `${codeAt(secret, now)}0`, now)).toBeNull();
  });
});

describe('recovery codes', () => {
  it('makes ten distinct codes that normalise the way people type them', () => {
    const codes = newRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    expect(normaliseRecoveryCode(' AbCdE-fGhIj ')).toBe('abcdefghij');
  });
});
