/** The API refused a request: the server's error body, as a thrown error. */
export class TookenError extends Error {
  override readonly name = 'TookenError';
  constructor(
    /** The HTTP status (400, 401, 403, 404, 409, 422, 429, 503…). */
    readonly status: number,
    /** The stable error code (`not_found`, `conflict`, `rate_limited`…). */
    readonly code: string,
    message: string,
    /** The request id the server logged: quote it when asking for help. */
    readonly requestId: string | null,
    /** Field-level problems of a validation error. */
    readonly details: ReadonlyArray<{ field: string; message: string }> = [],
  ) {
    super(message);
  }
}

/** The server could not be reached at all (connection refused, DNS, TLS, timeout). */
export class TookenUnreachableError extends Error {
  override readonly name = 'TookenUnreachableError';
  constructor(
    readonly baseUrl: string,
    options: { cause: unknown },
  ) {
    super(`Tooken is not reachable at ${baseUrl}`, options);
  }
}

/**
 * An in-process verifier could not get an answer it may serve: the server is unreachable or
 * unavailable and no cached answer may be used. Fail closed: treat the request as unauthenticated
 * (middleware answers 503).
 */
export class TookenUnavailableError extends Error {
  override readonly name = 'TookenUnavailableError';
  constructor(
    message = 'Tooken is unavailable and no cached answer may be served',
    options?: { cause: unknown },
  ) {
    super(message, options);
  }
}

/** The error a failed response carries, whatever its body. */
export async function errorFrom(response: Response, body: unknown): Promise<TookenError> {
  const requestId = response.headers.get('x-request-id');
  if (typeof body === 'object' && body !== null && 'error' in body && 'message' in body) {
    const { error, message, details } = body as { error: unknown; message: unknown; details?: unknown };
    return new TookenError(
      response.status,
      String(error),
      String(message),
      requestId,
      Array.isArray(details) ? (details as Array<{ field: string; message: string }>) : [],
    );
  }
  return new TookenError(response.status, 'http_error', `HTTP ${response.status}`, requestId);
}
