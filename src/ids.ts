import { randomInt } from 'node:crypto';

const ID_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A resource id such as `usr_` + 24 lowercase alphanumerics: prefixed, so a pasted id says what it is. */
export function newId(prefix: string): string {
  let out = `${prefix}_`;
  for (let i = 0; i < 24; i++) out += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return out;
}
