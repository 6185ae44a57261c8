import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { WorkspaceContext } from '../auth/context.js';
import type { Permission } from '../auth/permissions.js';
import type { LoggedReply, LoggedRequest } from '../http/request-log.js';
import { serializeVerifyResult } from './verify.js';
import { budgetHeaders, type VerifyCallOutcome, type VerifyRequestBody } from './verify-call.js';

/**
 * The verify fast lane (docs/architecture.md#the-verify-fast-lane). `POST …/tokens/verify`
 * is the one request a service sends on every call it serves; going through the framework's
 * generic per-request machinery (request and reply objects, hook runners, the body parser's
 * stream plumbing, the schema serializer) cost more than the verification itself. The lane answers
 * the common case straight from Node's request: the same JSON parser, the same compiled body
 * validator, the same cached credential checks (access.ts), the same budget and verifier
 * (verify-call.ts), the same headers, request id, log line and metrics.
 *
 * Anything it is not sure of — another content type, a chunked or large body, a query string, a
 * body that does not parse or validate, a credential or workspace not in the caches, a refused
 * permission, a closing server — is handed to the framework's route before anything was counted
 * or noted, with the body it already read, and answered there exactly as always (errors included).
 */
export interface VerifyLane {
  /** Answers `req`, or hands it to `next` (the framework's handler). */
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    next: (req: IncomingMessage, res: ServerResponse) => void,
  ): void;
  /** Requests answered here and handed over, since start (tests read them; /metrics counts through `counted`). */
  readonly counts: { answered: number; handedOver: number };
}

/** Where a handed-over request keeps the body the lane read (see `replayPrereadBody`). */
const PREREAD_BODY = Symbol('tooken.verifyLane.body');

type WithPrereadBody = IncomingMessage & { [PREREAD_BODY]?: Buffer };

/** A verify body is tens of bytes; 200 scopes of 100 characters fit in this. Larger goes the long way. */
const MAX_LANE_BODY_BYTES = 32 * 1024;

const ROUTE_PLAIN = '/v1/tokens/verify';
const ROUTE_SLUG = '/v1/workspaces/:slug/tokens/verify';
const SLUG_PATH = /^\/v1\/workspaces\/([a-z0-9][a-z0-9-]{0,99})\/tokens\/verify$/;

const JSON_TYPES = new Set(['application/json', 'application/json; charset=utf-8']);

export interface VerifyLaneOptions {
  /** The caller from the caches only (access.ts `cachedApiKeyContext`). */
  cachedContext(
    authorization: string | undefined,
    slug: string | undefined,
    permission: Permission,
    connection: object,
  ): WorkspaceContext | null;
  /** The framework's own JSON body parser: the parsed value, or `undefined` when it refuses. */
  parseJson(text: string): unknown;
  /** The verify route's compiled body validator. */
  validateBody(body: unknown): body is VerifyRequestBody;
  verify(workspaceId: string, body: VerifyRequestBody): VerifyCallOutcome;
  /** The request id, as the framework's `genReqId` gives it. */
  requestIdFor(req: IncomingMessage): string;
  /**
   * The fixed security headers as a flat [name, value, …] list, and whether this request came over
   * https (`undefined` when only the framework can tell, e.g. a proxy header it may or may not trust).
   */
  securityHeaders: readonly string[];
  overHttps(req: IncomingMessage): boolean | undefined;
  hstsHeader: readonly string[];
  /** An error raised after the call was counted: its status, headers and body, and logged. */
  failure(error: unknown, requestId: string): { status: number; headers: readonly string[]; body: string };
  /** The request line and the request metrics. */
  answered(request: LoggedRequest, reply: LoggedReply): void;
  /** True once the server is closing: the framework answers those (503, connection closed). */
  closing(): boolean;
  /** Counts what the lane did with a verify request (for /metrics). */
  counted?(outcome: 'answered' | 'handed_over'): void;
}

export function createVerifyLane(options: VerifyLaneOptions): VerifyLane {
  const counts = { answered: 0, handedOver: 0 };

  const handOver = (
    req: IncomingMessage,
    res: ServerResponse,
    next: (req: IncomingMessage, res: ServerResponse) => void,
    body?: Buffer,
  ) => {
    counts.handedOver += 1;
    options.counted?.('handed_over');
    if (body !== undefined) (req as WithPrereadBody)[PREREAD_BODY] = body;
    next(req, res);
  };

  const respond = (
    res: ServerResponse,
    started: number,
    request: LoggedRequest,
    status: number,
    headers: string[],
    payload: string,
  ) => {
    headers.push('content-length', String(Buffer.byteLength(payload)));
    res.writeHead(status, headers);
    res.end(payload);
    options.answered(request, { statusCode: status, elapsedTime: performance.now() - started });
  };

  const answer = (
    req: IncomingMessage,
    res: ServerResponse,
    next: (req: IncomingMessage, res: ServerResponse) => void,
    slug: string | undefined,
    https: boolean,
    started: number,
    raw: Buffer,
  ) => {
    let body: unknown;
    let context: WorkspaceContext | null;
    try {
      body = options.parseJson(raw.toString('utf8'));
      if (body === undefined || !options.validateBody(body)) return handOver(req, res, next, raw);
      context = options.cachedContext(req.headers.authorization, slug, 'tokens.verify', req.socket);
    } catch {
      // Nothing was counted yet: the route answers, as it would have without the lane.
      return handOver(req, res, next, raw);
    }
    if (context === null || options.closing()) return handOver(req, res, next, raw);
    counts.answered += 1;
    options.counted?.('answered');

    // From here on the call is counted: it is answered here, whatever happens.
    const requestId = options.requestIdFor(req);
    const request: LoggedRequest = {
      id: requestId,
      method: 'POST',
      url: req.url ?? '',
      routeOptions: { url: slug === undefined ? ROUTE_PLAIN : ROUTE_SLUG },
      workspaceContext: context,
    };
    const headers = https
      ? [...options.securityHeaders, ...options.hstsHeader]
      : [...options.securityHeaders];
    let outcome: VerifyCallOutcome;
    try {
      outcome = options.verify(context.workspace.id, body);
      headers.push(...budgetHeaders(outcome.budget));
    } catch (error) {
      return settle(() => fail(res, started, request, headers, error), res, request);
    }
    outcome.answer
      .then(
        (result) => {
          headers.push('content-type', 'application/json; charset=utf-8', 'x-request-id', requestId);
          respond(res, started, request, 200, headers, serializeVerifyResult(result));
        },
        (error: unknown) => fail(res, started, request, headers, error),
      )
      .catch((error: unknown) => broken(res, request, error));
  };

  /** Runs `write`; a throw while answering must never reach the process (nor answer twice). */
  const settle = (write: () => void, res: ServerResponse, request: LoggedRequest) => {
    try {
      write();
    } catch (error) {
      broken(res, request, error);
    }
  };

  /** The answer itself failed (a bug): logged as a failed request, and the connection closed. */
  const broken = (res: ServerResponse, request: LoggedRequest, error: unknown) => {
    try {
      options.failure(error, request.id);
    } catch {
      // Even the log failed: closing the connection is all that is left to do.
    } finally {
      res.destroy();
    }
  };

  const fail = (
    res: ServerResponse,
    started: number,
    request: LoggedRequest,
    headers: string[],
    error: unknown,
  ) => {
    const failure = options.failure(error, request.id);
    headers.push(
      ...failure.headers,
      'x-request-id',
      request.id,
      'content-type',
      'application/json; charset=utf-8',
    );
    respond(res, started, request, failure.status, headers, failure.body);
  };

  return {
    counts,
    handle(req, res, next) {
      const started = performance.now();
      if (req.method !== 'POST') return next(req, res);
      const url = req.url ?? '';
      let slug: string | undefined;
      if (url !== ROUTE_PLAIN) {
        if (!url.startsWith('/v1/workspaces/')) return next(req, res);
        const match = SLUG_PATH.exec(url);
        if (match === null) return next(req, res);
        slug = match[1];
      }
      const { headers } = req;
      const type = headers['content-type'];
      const length = headers['content-length'];
      const https = options.overHttps(req);
      if (
        type === undefined ||
        !JSON_TYPES.has(type.toLowerCase()) ||
        headers['transfer-encoding'] !== undefined ||
        length === undefined ||
        !/^[1-9][0-9]{0,5}$/.test(length) ||
        Number(length) > MAX_LANE_BODY_BYTES ||
        https === undefined ||
        options.closing()
      ) {
        return handOver(req, res, next);
      }
      // A body this small nearly always arrives with its headers: Node's parser gives it to the
      // request after this handler returns, within the same read (after the next tick, which runs
      // between the two). It is picked up once that read is done, without the stream machinery of
      // 'data' and 'end' events; a body still on its way is streamed.
      setImmediate(readBody, req, res, next, slug, https, started);
    },
  };

  function readBody(
    req: IncomingMessage,
    res: ServerResponse,
    next: (req: IncomingMessage, res: ServerResponse) => void,
    slug: string | undefined,
    https: boolean,
    started: number,
  ) {
    if (req.complete) {
      const raw = req.read() as Buffer | null;
      if (raw !== null) return answer(req, res, next, slug, https, started, raw);
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      answer(req, res, next, slug, https, started, raw);
    });
    // A connection lost mid-body has no one left to answer; the socket is closed by Node.
    req.on('error', () => {});
  }
}

/**
 * The verify route's `preParsing` hook: a request the lane read and handed over brings its body
 * along; any other request's body is read from the connection as usual.
 */
export function replayPrereadBody(
  request: { raw: IncomingMessage },
  _reply: unknown,
  payload: Readable,
  done: (error: Error | null, payload?: Readable) => void,
): void {
  const body = (request.raw as WithPrereadBody)[PREREAD_BODY];
  done(null, body === undefined ? payload : Readable.from([body]));
}
