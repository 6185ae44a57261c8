import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';

/**
 * Anything shaped like a secret Tooken issues, as it may appear in a log line: in a path (where a
 * pasted secret may be URL-encoded), an error message, a stack or a request id. The prefix is
 * kept, so the line still says what kind of secret was there.
 */
const PREFIXED_SECRETS: readonly [RegExp, string][] = [
  [/tkn_[A-Za-z0-9]{6,}/g, 'tkn_[redacted]'],
  [/tok_live_[A-Za-z0-9]{6,}/g, 'tok_live_[redacted]'],
  [/whsec_(?:[A-Za-z0-9+/=]|%[0-9A-Fa-f]{2}|\\\/){6,}/g, 'whsec_[redacted]'],
];

/**
 * Session and invitation secrets have no prefix: 43 random base64url characters. No id, slug,
 * digest or word Tooken logs is a run of 40 or more such characters mixing upper case, lower
 * case and digits, so such a run is taken for a secret.
 */
const UNPREFIXED_SECRET =
  /(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{40,}(?![A-Za-z0-9_-])/g;

/** `line` with every secret-shaped string replaced by `[redacted]`. */
export function redactSecrets(line: string): string {
  let out = line;
  for (const [pattern, replacement] of PREFIXED_SECRETS) out = out.replace(pattern, replacement);
  return out.replace(UNPREFIXED_SECRET, '[redacted]');
}

/**
 * JSON lines on stdout. We never log headers, bodies or query strings; the redaction paths are a
 * second line of defence should an object carrying credentials ever be passed to the logger, and
 * every finished line, whatever logged it, passes through `redactSecrets` on its way out.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["x-csrf-token"]',
          'res.headers["set-cookie"]',
          '*.password',
          '*.token',
          '*.key',
          '*.secret',
        ],
        censor: '[redacted]',
      },
      hooks: { streamWrite: redactSecrets },
    },
    destination ?? pino.destination(1),
  );
}
