import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The one JSON line written per request (docs/operations.md#logs). URLs are logged without their query,
 * headers and bodies never. Written through `lines` (see `withoutPathRedaction`), with the
 * request id first as `request.log` would bind it: the same line, at half the cost.
 */
export function logRequest(lines: FastifyBaseLogger, request: FastifyRequest, reply: FastifyReply): void {
  lines.info(
    {
      reqId: request.id,
      method: request.method,
      route: request.routeOptions.url ?? null,
      path: request.url.split('?')[0],
      status: reply.statusCode,
      duration_ms: Math.round(reply.elapsedTime * 100) / 100,
      request_id: request.id,
      workspace_id: request.workspaceContext?.workspace.id ?? null,
    },
    'request',
  );
}
