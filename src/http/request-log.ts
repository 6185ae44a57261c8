import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The one JSON line written per request (docs/operations.md#logs). URLs are logged without their query,
 * headers and bodies never.
 */
export function logRequest(request: FastifyRequest, reply: FastifyReply): void {
  request.log.info(
    {
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
