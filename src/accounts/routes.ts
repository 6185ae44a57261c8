import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { readCookie } from '../auth/principal.js';
import { SESSION_COOKIE, type SessionStore } from '../auth/sessions.js';
import type { Access } from '../http/access.js';
import { sessionOf } from '../http/context.js';
import { errors, NoContent } from '../http/schemas.js';
import { setSessionCookie } from '../http/session-cookie.js';
import { LoginBody, MeBody, SignedInBody, SignupBody } from './schemas.js';
import type { AccountService } from './service.js';
import { userView } from './view.js';

export interface AccountRouteOptions {
  access: Access;
  accounts: AccountService;
  sessions: Pick<SessionStore, 'destroy'>;
}

/** Sign-up, sign-in and sign-out of people (dashboard sessions), under `/v1`. */
export const accountRoutes: FastifyPluginAsyncTypebox<AccountRouteOptions> = async (app, opts) => {
  const { access, accounts, sessions } = opts;
  const tags = ['accounts'];

  app.post(
    '/auth/signup',
    {
      schema: {
        operationId: 'accounts.signup',
        security: [],
        summary: 'Sign up',
        tags,
        body: SignupBody,
        response: { 201: SignedInBody, ...errors(400, 403, 409, 429) },
      },
    },
    async (request, reply) => {
      const { invitation_token: invitationToken, ...body } = request.body;
      const signedIn = await accounts.signup({ ...body, invitationToken, ip: request.ip });
      setSessionCookie(request, reply, signedIn.sessionSecret);
      return reply.code(201).send({ user: userView(signedIn.user), csrf_token: signedIn.csrfToken });
    },
  );

  app.post(
    '/auth/login',
    {
      schema: {
        operationId: 'accounts.login',
        security: [],
        summary: 'Sign in',
        tags,
        body: LoginBody,
        response: { 200: SignedInBody, ...errors(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const signedIn = await accounts.login({ ...request.body, ip: request.ip });
      setSessionCookie(request, reply, signedIn.sessionSecret);
      return { user: userView(signedIn.user), csrf_token: signedIn.csrfToken };
    },
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        operationId: 'accounts.logout',
        security: [{ session: [] }],
        summary: 'Sign out',
        tags,
        response: { 204: NoContent, ...errors(401, 403) },
      },
      onRequest: access.session(),
    },
    async (request, reply) => {
      const secret = readCookie(request.headers.cookie, SESSION_COOKIE);
      if (secret !== null) await sessions.destroy(secret);
      setSessionCookie(request, reply, '', 0);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me',
    {
      schema: {
        operationId: 'accounts.me',
        security: [{ session: [] }],
        summary: 'The signed-in person, their CSRF token and workspaces',
        tags,
        response: { 200: MeBody, ...errors(401, 403) },
      },
      onRequest: access.session(),
    },
    async (request) => {
      const session = sessionOf(request);
      return {
        user: userView(session.user),
        csrf_token: session.csrfToken,
        workspaces: await accounts.workspacesOf(session.user.id),
      };
    },
  );
};
