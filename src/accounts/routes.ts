import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { readCookie } from '../auth/principal.js';
import { SESSION_COOKIE, type User } from '../auth/sessions.js';
import { iso } from '../clock.js';
import type { Access } from '../http/access.js';
import { errors, NoContent } from '../http/schemas.js';
import { setSessionCookie } from '../http/session-cookie.js';
import type { Services } from '../services.js';
import { LoginBody, MeBody, SignedInBody, SignupBody } from './schemas.js';

const userBody = (user: User) => ({ ...user, created_at: iso(user.created_at) });

export function registerAccountRoutes(app: FastifyInstance, services: Services, access: Access): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/v1/auth/signup',
    {
      schema: {
        tags: ['accounts'],
        body: SignupBody,
        response: { 201: SignedInBody, ...errors(400, 403, 409) },
      },
    },
    async (request, reply) => {
      const signedIn = await services.accounts.signup(request.body);
      setSessionCookie(request, reply, signedIn.sessionSecret);
      return reply.code(201).send({ user: userBody(signedIn.user), csrf_token: signedIn.csrfToken });
    },
  );

  r.post(
    '/v1/auth/login',
    {
      schema: {
        tags: ['accounts'],
        body: LoginBody,
        response: { 200: SignedInBody, ...errors(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const signedIn = await services.accounts.login({ ...request.body, ip: request.ip });
      setSessionCookie(request, reply, signedIn.sessionSecret);
      return { user: userBody(signedIn.user), csrf_token: signedIn.csrfToken };
    },
  );

  r.post(
    '/v1/auth/logout',
    {
      schema: { tags: ['accounts'], response: { 204: NoContent, ...errors(401, 403) } },
      onRequest: access.session(),
    },
    async (request, reply) => {
      const secret = readCookie(request.headers.cookie, SESSION_COOKIE);
      if (secret !== null) await services.sessions.destroy(secret);
      setSessionCookie(request, reply, '', 0);
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/v1/me',
    {
      schema: { tags: ['accounts'], response: { 200: MeBody, ...errors(401, 403) } },
      onRequest: access.session(),
    },
    async (request) => {
      const principal = request.principal;
      if (principal?.type !== 'session') throw new Error('session route without a session');
      return {
        user: userBody(principal.user),
        csrf_token: principal.csrfToken,
        workspaces: await services.accounts.workspacesOf(principal.user.id),
      };
    },
  );
}
