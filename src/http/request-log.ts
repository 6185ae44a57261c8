import type { RequestLine } from '../logger.js';

/** What the line reads of a request (a Fastify request has it; so does the verify fast lane's). */
export interface LoggedRequest {
  id: string;
  method: string;
  url: string;
  routeOptions: { url?: string | undefined };
  workspaceContext: { workspace: { id: string } } | null;
}

/** What the line reads of the answer. */
export interface LoggedReply {
  statusCode: number;
  /** Milliseconds since the request arrived. */
  elapsedTime: number;
}

/**
 * The one JSON line written per request (docs/operations.md#logs). URLs are logged without their query,
 * headers and bodies never. Written through `write` (see `createRequestLineWriter`), with the
 * request id first as `request.log` would bind it.
 */
export function logRequest(
  write: (line: RequestLine) => void,
  request: LoggedRequest,
  reply: LoggedReply,
): void {
  const { url } = request;
  const query = url.indexOf('?');
  write({
    reqId: request.id,
    method: request.method,
    route: request.routeOptions.url ?? null,
    path: query === -1 ? url : url.slice(0, query),
    status: reply.statusCode,
    duration_ms: Math.round(reply.elapsedTime * 100) / 100,
    request_id: request.id,
    workspace_id: request.workspaceContext?.workspace.id ?? null,
  });
}
