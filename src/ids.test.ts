import { describe, expect, it } from 'vitest';
import { createIdSource, newId } from './ids.js';

describe('ids', () => {
  it('newId: the prefix and 24 lowercase alphanumerics', () => {
    expect(newId('usr')).toMatch(/^usr_[0-9a-z]{24}$/);
  });

  it('createIdSource: the same shape, distinct across many pools of random bytes, every character used', () => {
    const next = createIdSource('req');
    const ids = Array.from({ length: 5_000 }, () => next());
    for (const id of ids) expect(id).toMatch(/^req_[0-9a-z]{24}$/);
    expect(new Set(ids).size).toBe(ids.length);
    const seen = new Set(ids.join('').replaceAll('req_', ''));
    expect(seen.size).toBe(36);
  });
});
