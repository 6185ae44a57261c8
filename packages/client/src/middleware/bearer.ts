/** What an `Authorization` header holds, as far as bearer authentication is concerned. */
export type BearerCredential =
  | { kind: 'missing' }
  | { kind: 'malformed' }
  | { kind: 'secret'; secret: string };

/** RFC 6750 §2.1: `Bearer` (any case), one or more spaces, one b64token, nothing else. */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** Longer than any credential worth sending to Tooken. */
const MAX_SECRET_LENGTH = 4096;

/**
 * Reads the bearer secret from an `Authorization` header value. No header, or an empty one, is
 * `missing`; another scheme, no credential, several credentials or characters a bearer token never
 * has are `malformed`. Several headers (an array, or values a Fetch `Headers` joined with commas)
 * are malformed too: exactly one credential is accepted.
 */
export function parseBearer(header: string | readonly string[] | null | undefined): BearerCredential {
  if (header === undefined || header === null) return { kind: 'missing' };
  if (typeof header !== 'string') {
    if (header.length === 0) return { kind: 'missing' };
    return header.length === 1 ? parseBearer(header[0]) : { kind: 'malformed' };
  }
  const value = header.trim();
  if (value === '') return { kind: 'missing' };
  const secret = BEARER.exec(value)?.[1];
  if (secret === undefined || secret.length > MAX_SECRET_LENGTH) return { kind: 'malformed' };
  return { kind: 'secret', secret };
}
