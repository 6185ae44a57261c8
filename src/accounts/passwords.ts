import { hash, verify } from '@node-rs/argon2';

/** argon2id (the library's default algorithm) with its default cost: ~20 ms a hash here. */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

export function verifyPassword(stored: string, password: string): Promise<boolean> {
  return verify(stored, password).catch(() => false);
}

/** Hash of a random string, verified against when an email is unknown so timing does not tell. */
export const DUMMY_HASH_INPUT = 'tooken-timing-equaliser';
