import { createHash, hash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Generation and checking of every secret Tooken issues (docs/permissions.md#secrets). Secrets are shown once;
 * only `digest()` of the whole string is stored, with `hint()` for display.
 */

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export type CredentialKind = 'api_key' | 'token';

interface SecretFormat {
  prefix: string;
  randomLength: number;
}

export const SECRET_FORMATS: Record<CredentialKind, SecretFormat> = {
  api_key: { prefix: 'tok_live_', randomLength: 14 },
  token: { prefix: 'tkn_', randomLength: 34 },
};

const CHECKSUM_LENGTH = 6;

function randomString(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** Base62 CRC-32 of `text`, most significant digit first, left-padded to 6 characters. */
export function checksum(text: string): string {
  // The text is base62 (ASCII), so its UTF-8 bytes, which crc32 reads from a string, are the same.
  let value = crc32(text);
  let out = '';
  while (value > 0) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out.padStart(CHECKSUM_LENGTH, '0');
}

export function generateSecret(kind: CredentialKind): string {
  const { prefix, randomLength } = SECRET_FORMATS[kind];
  const random = randomString(BASE62, randomLength);
  return `${prefix}${random}${checksum(random)}`;
}

const BASE62_CHAR = /^[0-9A-Za-z]+$/;

/** Which kind of credential a presented string is, or null when its format or checksum is wrong. */
export function parseSecret(presented: string): CredentialKind | null {
  for (const kind of ['api_key', 'token'] as const) {
    const { prefix, randomLength } = SECRET_FORMATS[kind];
    if (!presented.startsWith(prefix)) continue;
    const body = presented.slice(prefix.length);
    if (body.length !== randomLength + CHECKSUM_LENGTH || !BASE62_CHAR.test(body)) return null;
    // The checksum is a public function of the presented text (anyone can compute it): comparing
    // it in constant time would protect nothing. Secrets themselves are only compared as digests.
    return checksum(body.slice(0, randomLength)) === body.slice(randomLength) ? kind : null;
  }
  return null;
}

/**
 * Lowercase hex SHA-256: the only form in which a secret is stored. One-shot `crypto.hash`
 * (a third of the cost of a Hash object; two run on every bearer verify).
 */
export function digest(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** Display hint: prefix, first 4 and last 2 characters (`tok_live_8fJ2…3f`). */
export function hint(secret: string): string {
  const prefix = secret.startsWith('tok_live_') ? 'tok_live_' : secret.slice(0, secret.indexOf('_') + 1);
  const body = secret.slice(prefix.length);
  return `${prefix}${body.slice(0, 4)}…${body.slice(-2)}`;
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}

/** A URL-safe random secret for sessions and invitation links. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * A 32-byte key derived from a caller's own secret, used to seal what is kept for that caller
 * alone (idempotent replays). Nothing stored can re-derive it.
 */
export function sealKeyFor(secret: string): Buffer {
  return createHash('sha256').update(`tooken-replay\n${secret}`, 'utf8').digest();
}
