import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestLine } from '../logger.js';

/**
 * The one JSON line written per request (docs/operations.md#logs). URLs are logged without their query,
 * headers and bodies never. Written through `write` (see `createRequestLineWriter`), with the
 * request id first as `request.log` would bind it.
 */
export function logRequest(
  write: (line: RequestLine) => void,
  request: FastifyRequest,
  reply: FastifyReply,
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
