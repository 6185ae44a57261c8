import { randomInt } from 'node:crypto';

export const SLUG_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$';

/** A slug derived from a workspace name: lowercase ASCII words joined by dashes, ≤ 48 chars. */
export function slugFromName(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 48)
    .replace(/-+$/, '');
  return base === '' ? 'workspace' : base;
}

const SUFFIX_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * The slug with a random 6-character suffix (`acme-x7k2q9`), still within 48 characters. Random,
 * not `-2`, `-3`, …: counting up means searching past every earlier one, and many names share a
 * base (every name without Latin letters derives `workspace`).
 */
export function slugWithRandomSuffix(slug: string): string {
  let suffix = '-';
  for (let i = 0; i < 6; i++) suffix += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
  return `${slug.slice(0, 48 - suffix.length).replace(/-+$/, '')}${suffix}`;
}
