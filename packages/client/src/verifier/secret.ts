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

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** The value of a base62 digit (`0-9A-Za-z`), or -1. */
function digit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 90) return code - 55;
  if (code >= 97 && code <= 122) return code - 61;
  return -1;
}

/** Whether `presented` is a well-formed token secret whose checksum matches. No allocation. */
export function isTokenSecret(presented: string): boolean {
  if (presented.length !== LENGTH || !presented.startsWith(PREFIX)) return false;
  let crc = -1;
  const end = PREFIX.length + RANDOM_LENGTH;
  for (let i = PREFIX.length; i < end; i++) {
    const code = presented.charCodeAt(i);
    if (digit(code) < 0) return false;
    crc = (CRC_TABLE[(crc ^ code) & 0xff] as number) ^ (crc >>> 8);
  }
  let written = 0;
  for (let i = end; i < LENGTH; i++) {
    const value = digit(presented.charCodeAt(i));
    if (value < 0) return false;
    written = written * 62 + value;
  }
  return written === (crc ^ -1) >>> 0;
}
