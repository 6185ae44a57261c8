import { describe, expect, it } from 'vitest';
import { SLUG_PATTERN, slugFromName, slugWithSuffix } from './slug.js';

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

  it('adds a suffix without passing 48 characters', () => {
    expect(slugWithSuffix('acme', 2)).toBe('acme-2');
    const long = slugWithSuffix('a'.repeat(48), 12);
    expect(long).toHaveLength(48);
    expect(long).toMatch(valid);
  });
});
