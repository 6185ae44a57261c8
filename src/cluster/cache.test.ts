import { describe, expect, it } from 'vitest';
import { createInvalidatingCache } from './cache.js';

describe('invalidating cache', () => {
  const cache = () => createInvalidatingCache<string>({ hits: 3, misses: 2, ttlMs: 60_000 });

  it('keeps misses apart from hits: any number of misses leaves every hit in place', () => {
    const c = cache();
    for (const key of ['a', 'b', 'c']) c.set(key, key.toUpperCase(), c.generation());
    for (let i = 0; i < 100; i++) c.set(`forged-${i}`, null, c.generation());
    expect(['a', 'b', 'c'].map((key) => c.get(key))).toEqual(['A', 'B', 'C']);
    // Misses are remembered within their own bound: the latest ones only.
    expect(c.get('forged-99')).toBeNull();
    expect(c.get('forged-98')).toBeNull();
    expect(c.get('forged-0')).toBeUndefined();
    expect(c.stats().size).toBe(5);
  });

  it('replaces a remembered miss by a hit and a hit by a miss', () => {
    const c = cache();
    c.set('k', null, c.generation());
    c.set('k', 'found', c.generation());
    expect(c.get('k')).toBe('found');
    c.set('k', null, c.generation());
    expect(c.get('k')).toBeNull();
    expect(c.stats().size).toBe(1);
  });

  it('forgets hits and misses on invalidation, and refuses a read taken before it', () => {
    const c = cache();
    c.set('hit', 'value', c.generation());
    c.set('miss', null, c.generation());
    const before = c.generation();
    c.invalidate(['hit', 'miss']);
    expect(c.get('hit')).toBeUndefined();
    expect(c.get('miss')).toBeUndefined();
    c.set('miss', null, before);
    c.set('hit', 'stale', before);
    expect(c.get('hit')).toBeUndefined();
    expect(c.get('miss')).toBeUndefined();
    c.set('hit', 'fresh', c.generation());
    c.clear();
    expect(c.get('hit')).toBeUndefined();
  });
});
