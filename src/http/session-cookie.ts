import type { FastifyReply, FastifyRequest } from 'fastify';
import { SESSION_COOKIE, SESSION_IDLE_MS } from '../auth/sessions.js';

export const SESSION_MAX_AGE_S = Math.floor(SESSION_IDLE_MS / 1000);

/** `tooken_session`: HttpOnly, SameSite=Lax, Secure when served over https (docs/permissions.md#sessions-and-csrf). */
export function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  value: string,
  maxAgeSeconds = SESSION_MAX_AGE_S,
): void {
  // Secure when served over https, directly or behind a trusted proxy.
  const secure = request.protocol === 'https';
  reply.header(
    'set-cookie',
    `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`,
  );
}
