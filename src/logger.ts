import type { FastifyBaseLogger } from 'fastify';
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

/** Whether `line` has a run of 40 or more base64url characters: a cheap scan, no regular expression. */
function hasLongRun(line: string): boolean {
  let run = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    const inRun =
      (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45;
    run = inRun ? run + 1 : 0;
    if (run >= 40) return true;
  }
  return false;
}

/** `line` with every secret-shaped string replaced by `[redacted]`. */
export function redactSecrets(line: string): string {
  // Most lines hold nothing any pattern below could match: a quick look first (about half the cost).
  const suspect =
    line.includes('tkn_') || line.includes('tok_live_') || line.includes('whsec_') || hasLongRun(line);
  if (!suspect) return line;
  let out = line;
  for (const [pattern, replacement] of PREFIXED_SECRETS) out = out.replace(pattern, replacement);
  return out.replace(UNPREFIXED_SECRET, '[redacted]');
}

/** Stdout is written once this much is buffered (about 15 request lines)... */
const LOG_BATCH_BYTES = 4096;
/** ...or this often, whatever is buffered: no line waits longer, however quiet the server. */
const LOG_FLUSH_MS = 100;

/**
 * JSON lines on stdout. We never log headers, bodies or query strings; the redaction paths are a
 * second line of defence should an object carrying credentials ever be passed to the logger, and
 * every finished line, whatever logged it, passes through `redactSecrets` on its way out.
 *
 * Stdout is written asynchronously (off the event loop), in writes of at least `LOG_BATCH_BYTES`
 * or whatever `LOG_FLUSH_MS` has gathered, and flushed synchronously when the process exits: a
 * synchronous write per line cost a verify request about a tenth of its time, and an
 * asynchronous write per line still 8 µs of CPU against 5 µs batched (BENCHMARKS.md).
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
    destination ??
      pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS }),
  );
}

/**
 * A child of `logger` for lines whose fields are all plain values chosen by our own code, such
 * as the one line per request: it skips the path redaction (which clones the logged object per
 * call, for credentials that cannot be there) but not `redactSecrets`, which every line passes.
 */
export function withoutPathRedaction<L extends { child(bindings: object, options: { redact: string[] }): L }>(
  logger: L,
): L {
  return logger.child({}, { redact: [] });
}

/** The fields of the one line written per request, in the order they are written. */
export interface RequestLine {
  reqId: string;
  method: string;
  route: string | null;
  path: string;
  status: number;
  duration_ms: number;
  request_id: string;
  workspace_id: string | null;
}

const quote = JSON.stringify;

/**
 * Writes request lines exactly as `withoutPathRedaction(logger).info(fields, 'request')` would
 * (a test keeps the two byte for byte equal, time apart), but builds the fixed-shape line itself
 * and hands it to the logger's stream: pino's generic serialiser cost more than half of the line
 * (BENCHMARKS.md). The whole line still passes through `redactSecrets`. A logger that is not a
 * plain pino logger without bindings is written to through pino.
 */
export function createRequestLineWriter(logger: FastifyBaseLogger): (line: RequestLine) => void {
  const viaPino = withoutPathRedaction(logger);
  const internals = logger as unknown as Record<symbol, unknown>;
  const stream = internals[pino.symbols.streamSym] as DestinationStream | undefined;
  if (stream === undefined || internals[pino.symbols.chindingsSym] !== '') {
    return (line) => viaPino.info(line, 'request');
  }
  const pinoLogger = logger as unknown as Logger;
  return (line) => {
    if (!pinoLogger.isLevelEnabled('info')) return;
    const reqId = quote(line.reqId);
    stream.write(
      redactSecrets(
        `{"level":30,"time":"${new Date().toISOString()}","reqId":${reqId},"method":${quote(line.method)},` +
          `"route":${line.route === null ? 'null' : quote(line.route)},"path":${quote(line.path)},` +
          `"status":${line.status},"duration_ms":${line.duration_ms},"request_id":${quote(line.request_id)},` +
          `"workspace_id":${line.workspace_id === null ? 'null' : quote(line.workspace_id)},"msg":"request"}\n`,
      ),
    );
  };
}
