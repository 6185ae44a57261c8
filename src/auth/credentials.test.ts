import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { newId } from '../ids.js';
import { checksum, constantTimeEqual, digest, generateSecret, hint, parseSecret } from './credentials.js';

describe('secrets', () => {
  it('generates API keys and token secrets in the documented formats', () => {
    expect(generateSecret('api_key')).toMatch(/^tok_live_[0-9A-Za-z]{20}$/);
    expect(generateSecret('token')).toMatch(/^tkn_[0-9A-Za-z]{40}$/);
  });

  it('writes the CRC-32 in base62, most significant digit first, padded to six', () => {
    const value = crc32(Buffer.from('abc'));
    const sum = checksum('abc');
    expect(sum).toHaveLength(6);
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    const decoded = [...sum].reduce((acc, ch) => acc * 62 + alphabet.indexOf(ch), 0);
    expect(decoded).toBe(value);
  });

  it('recognises its own secrets and rejects a changed character or a bad length', () => {
    const key = generateSecret('api_key');
    const token = generateSecret('token');
    expect(parseSecret(key)).toBe('api_key');
    expect(parseSecret(token)).toBe('token');
    const flipped = key.slice(0, 10) + (key[10] === 'a' ? 'b' : 'a') + key.slice(11);
    expect(parseSecret(flipped)).toBeNull();
    expect(parseSecret(`${key}x`)).toBeNull();
    expect(parseSecret('tok_live_!!!!!!!!!!!!!!!!!!!!')).toBeNull();
    expect(parseSecret('hello')).toBeNull();
  });

  it('digests with SHA-256 hex and hints with the prefix, first four and last two characters', () => {
    expect(digest('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hint('tok_live_8fJ2kLq0ZxA9bC1d2E3f')).toBe('tok_live_8fJ2…3f');
    expect(hint('tkn_AbCdEFGH9z')).toBe('tkn_AbCd…9z');
  });

  it('compares in constant time and handles different lengths', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });

  it('digests the UTF-8 bytes of a secret as lowercase hex SHA-256', () => {
    expect(digest('tkn_\u00e9\u{1F600}')).toBe(
      createHash('sha256').update(Buffer.from('tkn_\u00e9\u{1F600}', 'utf8')).digest('hex'),
    );
  });

  it('makes ids of a prefix and 24 lowercase alphanumerics', () => {
    expect(newId('usr')).toMatch(/^usr_[a-z0-9]{24}$/);
  });
});
