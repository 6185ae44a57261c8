import { describe, expect, it } from 'vitest';
import { parseBearer } from './bearer.js';

const SECRET = 'tkn_4fQ9xZ2kLm8pR3sT6vW1yB5cD7eG0hJ2nP4q';

describe('parseBearer', () => {
  it.each([
    [`Bearer ${SECRET}`],
    [`bearer ${SECRET}`],
    [`BEARER ${SECRET}`],
    [`Bearer   ${SECRET}`],
    [`  Bearer ${SECRET}  `],
    [[`Bearer ${SECRET}`]],
  ])('reads the secret from %j', (header) => {
    expect(parseBearer(header)).toEqual({ kind: 'secret', secret: SECRET });
  });

  it('accepts every b64token character and trailing padding (RFC 6750 §2.1)', () => {
    expect(parseBearer('Bearer aZ09-._~+/==')).toEqual({ kind: 'secret', secret: 'aZ09-._~+/==' });
  });

  it.each([[undefined], [null], [''], ['   '], [[]]])('calls %j missing', (header) => {
    expect(parseBearer(header)).toEqual({ kind: 'missing' });
  });

  it.each([
    ['Bearer'],
    ['Bearer '],
    [SECRET],
    [`Basic ${SECRET}`],
    [`Bearer${SECRET}`],
    [`Bearer ${SECRET} ${SECRET}`],
    [`Bearer ${SECRET}, Bearer ${SECRET}`],
    [`Bearer "${SECRET}"`],
    ['Bearer tkn_a\u0000b'],
    ['Bearer tkn_é'],
    ['Bearer ==abc'],
    [`Bearer ${'a'.repeat(4097)}`],
    [[`Bearer ${SECRET}`, `Bearer ${SECRET}`]],
  ])('calls %j malformed', (header) => {
    expect(parseBearer(header)).toEqual({ kind: 'malformed' });
  });
});
