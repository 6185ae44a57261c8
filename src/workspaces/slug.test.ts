import { describe, expect, it } from 'vitest';
import { SLUG_PATTERN, slugFromName, slugWithRandomSuffix } from './slug.js';

describe('slugs', () => {
  const valid = new RegExp(SLUG_PATTERN);

  it('derives a valid slug from any name', () => {
    expect(slugFromName('Acme Production')).toBe('acme-production');
    expect(slugFromName('  Café — Über!  ')).toBe('cafe-uber');
    expect(slugFromName('!!!')).toBe('workspace');
    for (const name of ['A'.repeat(100), `${'a'.repeat(47)}-b`, 'x y z', '日本語']) {
      expect(slugFromName(name)).toMatch(valid);
    }
  });

  it('adds a random suffix without passing 48 characters', () => {
    expect(slugWithRandomSuffix('acme')).toMatch(/^acme-[a-z0-9]{6}$/);
    const long = slugWithRandomSuffix('a'.repeat(48));
    expect(long).toHaveLength(48);
    expect(long).toMatch(valid);
    // A dash left at the cut is dropped, so the slug stays valid.
    const cut = slugWithRandomSuffix(`${'a'.repeat(40)}-bbbbbbb`);
    expect(cut).toMatch(valid);
    expect(cut).toMatch(/^a{40}-[a-z0-9]{6}$/);
  });
});
