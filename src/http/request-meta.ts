import type { FastifyRequest } from 'fastify';

/** Where a change came from, as audit entries record it (the audit feature's `RequestMeta`). */
export function requestMeta(request: FastifyRequest): {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
} {
  const agent = request.headers['user-agent'];
  return {
    ip: request.ip ?? null,
    userAgent: typeof agent === 'string' ? agent.slice(0, 512) : null,
    requestId: request.id,
  };
}
