import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../db/database.js';
import { AppError, type ErrorCode, type ErrorDetail } from '../errors.js';
import { NO_BIDI_CONTROLS } from './schemas.js';

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** `/scopes/0` → `scopes[0]`; required/additional properties name the property itself. */
function fieldOf(error: AjvError): string {
  const parts = error.instancePath.split('/').filter(Boolean);
  const extra = error.params.missingProperty ?? error.params.additionalProperty;
  if (typeof extra === 'string') parts.push(extra);
  return parts.reduce(
    (acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part),
    '',
  );
}

function messageOf(error: AjvError): string {
  if (error.keyword === 'additionalProperties') return 'is not a known field';
  if (error.keyword === 'pattern' && error.params.pattern === NO_BIDI_CONTROLS) {
    return 'must not contain bidirectional control characters (U+202A–U+202E, U+2066–U+2069)';
  }
  if (error.keyword === 'required') return 'is required';
  return error.message ?? 'is invalid';
}

const STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  422: 'unprocessable_entity',
  429: 'rate_limited',
};

/** Seconds a client is told to wait before retrying while the database is unavailable. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** 503 for a database that cannot be reached or cannot take a statement now (docs/errors.md). */
export function databaseUnavailable(cause: unknown): AppError {
  return new AppError('unavailable', 'The database cannot be reached right now; retry shortly', {
    cause,
    headers: { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
  });
}

/** Turns anything thrown into an AppError; internals never reach the response. */
export function toAppError(error: FastifyError | AppError | Error): AppError {
  if (error instanceof AppError) return error;
  if (isDatabaseUnavailable(error)) return databaseUnavailable(error);
  const fastifyError = error as FastifyError & { validation?: AjvError[]; validationContext?: string };
  if (Array.isArray(fastifyError.validation)) {
    const context = fastifyError.validationContext ?? 'body';
    const details: ErrorDetail[] = fastifyError.validation.map((e) => ({
      field: fieldOf(e) || context,
      message: messageOf(e),
    }));
    const first = details[0];
    const summary = first ? `${first.field} ${first.message}` : 'The request is invalid';
    return new AppError('bad_request', `Invalid ${context}: ${summary}`, { details });
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'The request body is larger than 1 MiB');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('bad_request', 'The request body must be JSON (Content-Type: application/json)');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('bad_request', 'The request body is empty but Content-Type is application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('bad_request', 'The request body is not valid JSON');
    case 'FST_ERR_BAD_URL':
      return new AppError('bad_request', 'The request URL is malformed');
  }
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    if (error instanceof SyntaxError)
      return new AppError('bad_request', 'The request body is not valid JSON');
    return new AppError(STATUS_CODES[status] ?? 'bad_request', 'The request could not be processed');
  }
  return new AppError('internal_error', 'Something went wrong on our side; the request id identifies it', {
    cause: error,
  });
}

/** The body of every error answer (docs/errors.md). */
export function errorBody(appError: AppError, requestId: string) {
  return {
    error: appError.code,
    message: appError.message,
    status: appError.status,
    request_id: requestId,
    ...(appError.details ? { details: appError.details } : {}),
  };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, appError: AppError): FastifyReply {
  if (appError.headers) reply.headers(appError.headers);
  // Set here too: errors raised before routing (a bad URL) skip the onSend hook that adds it.
  reply.header('x-request-id', request.id);
  return reply
    .code(appError.status)
    .type('application/json; charset=utf-8')
    .send(errorBody(appError, request.id));
}

/** An answer the server could not give (5xx) is logged with its cause; a client's mistake is not. */
export function logFailure(
  log: FastifyBaseLogger,
  appError: AppError,
  error: unknown,
  requestId: string,
): void {
  if (appError.code === 'unavailable') {
    log.warn({ err: appError.cause ?? error, request_id: requestId }, 'database unavailable');
  } else if (appError.status >= 500) {
    log.error({ err: appError.cause ?? error, request_id: requestId }, 'request failed');
  }
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error as FastifyError);
    logFailure(request.log, appError, error, request.id);
    return sendError(request, reply, appError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, new AppError('not_found', 'No such route')),
  );
}
