/**
 * The `tkn_` secret format, checked locally so a malformed or mistyped secret never costs a
 * request: `tkn_` + 34 random base62 characters + their CRC-32 (IEEE) in 6 base62 digits, most
 * significant first. The same rule as the server's; written again here, as the client shares no code
 * with the server.
 */

const PREFIX = 'tkn_';
const RANDOM_LENGTH = 34;
const CHECKSUM_LENGTH = 6;
const LENGTH = PREFIX.length + RANDOM_LENGTH + CHECKSUM_LENGTH;
/** The length of every token secret: anything else is refused before any other work. */
export const SECRET_LENGTH = LENGTH;
const RANDOM_END = PREFIX.length + RANDOM_LENGTH;

/**
 * CRC-32 tables for slicing by 4: `CRC[k * 256 + n]` is the CRC of byte `n` followed by `k` zero
 * bytes, so four characters fold into the checksum with four lookups and no loop over bits.
 */
const CRC = (() => {
  const table = new Int32Array(4 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 4; k++) {
      const previous = table[(k - 1) * 256 + n] as number;
      table[k * 256 + n] = (table[previous & 0xff] as number) ^ (previous >>> 8);
    }
  }
  return table;
})();

/** The value of each ASCII base62 digit (`0-9A-Za-z`); -1 for every other ASCII code. */
const DIGIT = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let code = 48; code <= 57; code++) table[code] = code - 48;
  for (let code = 65; code <= 90; code++) table[code] = code - 55;
  for (let code = 97; code <= 122; code++) table[code] = code - 61;
  return table;
})();

/**
 * Whether `presented` is a well-formed token secret whose checksum matches. No allocation, no
 * branch per character: every code is or'ed into `seen` (any code past ASCII shows in it) and every
 * digit value into `bad` (any -1 shows in it), both checked once at the end.
 */
export function isTokenSecret(presented: string): boolean {
  if (presented.length !== LENGTH || !presented.startsWith(PREFIX)) return false;
  let seen = 0;
  let bad = 0;
  let crc = -1;
  let i = PREFIX.length;
  // 34 = 8 × 4 + 2: eight steps of four characters, then two of one.
  for (; i + 4 <= RANDOM_END; i += 4) {
    const a = presented.charCodeAt(i);
    const b = presented.charCodeAt(i + 1);
    const c = presented.charCodeAt(i + 2);
    const d = presented.charCodeAt(i + 3);
    seen |= a | b | c | d;
    bad |= (DIGIT[a & 127] as number) | (DIGIT[b & 127] as number) | (DIGIT[c & 127] as number);
    bad |= DIGIT[d & 127] as number;
    crc ^= a | (b << 8) | (c << 16) | (d << 24);
    crc =
      (CRC[768 + (crc & 0xff)] as number) ^
      (CRC[512 + ((crc >>> 8) & 0xff)] as number) ^
      (CRC[256 + ((crc >>> 16) & 0xff)] as number) ^
      (CRC[crc >>> 24] as number);
  }
  for (; i < RANDOM_END; i++) {
    const code = presented.charCodeAt(i);
    seen |= code;
    bad |= DIGIT[code & 127] as number;
    crc = (CRC[(crc ^ code) & 0xff] as number) ^ (crc >>> 8);
  }
  let written = 0;
  for (; i < LENGTH; i++) {
    const code = presented.charCodeAt(i);
    seen |= code;
    const value = DIGIT[code & 127] as number;
    bad |= value;
    written = written * 62 + value;
  }
  return seen < 128 && bad >= 0 && written === (crc ^ -1) >>> 0;
}
