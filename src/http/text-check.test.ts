import { describe, expect, it } from 'vitest';
import { assertWellFormedUrl, findBadText } from './text-check.js';

describe('text the databases can store as given', () => {
  it('finds a lone surrogate or a NUL in any string or key, naming where it is', () => {
    expect(findBadText({ name: 'ok 🚀', tags: ['a', 'b'] }, 'body')).toBeNull();
    expect(findBadText('x\ud800', 'body')).toMatchObject({ field: 'body' });
    expect(findBadText({ a: { b: ['ok', '\udc00'] } }, 'body')).toMatchObject({ field: 'a.b[1]' });
    expect(findBadText({ a: { 'k\ud83d': 1 } }, 'body')).toMatchObject({ field: 'a' });
    expect(findBadText({ '\ud83d': 1 }, 'body')).toMatchObject({ field: 'body' });
    expect(findBadText({ name: 'a\u0000' }, 'query')?.message).toMatch(/NUL/);
    // Parsed query strings and path parameters are plain objects of strings (or string arrays).
    expect(findBadText({ event: ['token.created', 'x\udbff'] }, 'query')).toMatchObject({
      field: 'event[1]',
    });
    expect(findBadText({ id: 'tok_\udfff' }, 'path')).toMatchObject({ field: 'id' });
  });

  it('walks deeply nested values without recursion', () => {
    let deep: unknown = 'x\ud800';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const field = findBadText(deep, 'body')?.field ?? '';
    expect(field).toMatch(/^(\[0\])+…$/);
    expect(field.length).toBeLessThan(300);
  });

  it('refuses a query string that is not percent-encoded UTF-8', () => {
    for (const url of ['/v1/tokens?name=%ED%A0%80', '/v1/tokens?a=1&b=%FF', '/v1/x?c=100%', '/v1/x?n=%00']) {
      expect(() => assertWellFormedUrl(url), url).toThrow();
    }
    for (const url of ['/v1/tokens', '/v1/tokens?name=%F0%9F%9A%80&x=a+b', '/v1/x?c=100%25&&']) {
      expect(() => assertWellFormedUrl(url), url).not.toThrow();
    }
  });
});
