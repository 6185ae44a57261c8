import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { readCookie } from '../auth/principal.js';
import { SESSION_COOKIE, type SessionStore } from '../auth/sessions.js';
import { AppError } from '../errors.js';
import type { Access } from '../http/access.js';
import { sessionOf } from '../http/context.js';
import { requestMeta } from '../http/request-meta.js';
import { errors, NoContent } from '../http/schemas.js';
import { setSessionCookie } from '../http/session-cookie.js';
import { meRoutes } from './me-routes.js';
import {
  LoginBody,
  LoginResultBody,
  LoginTwoFactorBody,
  MeBody,
  PasswordResetBody,
  PasswordResetConfirmBody,
  SignedInBody,
  SignupBody,
} from './schemas.js';
import type { AccountService } from './service.js';
import { userView } from './view.js';

/** Where a request comes from: recorded on the session it opens, and in audit entries. */
export function originOf(request: FastifyRequest) {
  const meta = requestMeta(request);
  return { ...meta, ip: request.ip };
}

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
      const signedIn = await accounts.signup({ ...body, invitationToken, origin: originOf(request) });
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
        description:
          'With two-factor on, a right password answers `{two_factor_required: true, challenge}` and no session: complete the sign-in with POST /v1/auth/login/two-factor.',
        body: LoginBody,
        response: { 200: LoginResultBody, ...errors(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const result = await accounts.login({ ...request.body, origin: originOf(request) });
      if ('challenge' in result) return { two_factor_required: true as const, challenge: result.challenge };
      setSessionCookie(request, reply, result.sessionSecret);
      return { user: userView(result.user), csrf_token: result.csrfToken };
    },
  );

  app.post(
    '/auth/login/two-factor',
    {
      schema: {
        operationId: 'accounts.loginTwoFactor',
        security: [],
        summary: 'Complete a sign-in with a two-factor code or a recovery code',
        tags,
        body: LoginTwoFactorBody,
        response: { 200: SignedInBody, ...errors(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const { challenge, code, recovery_code: recoveryCode } = request.body;
      if ((code === undefined) === (recoveryCode === undefined)) {
        throw new AppError('bad_request', 'Send either code or recovery_code', {
          details: [{ field: 'code', message: 'send either code or recovery_code' }],
        });
      }
      const factor = code !== undefined ? { code } : { recoveryCode: recoveryCode ?? '' };
      const signedIn = await accounts.loginTwoFactor({ challenge, factor, origin: originOf(request) });
      setSessionCookie(request, reply, signedIn.sessionSecret);
      return { user: userView(signedIn.user), csrf_token: signedIn.csrfToken };
    },
  );

  app.post(
    '/auth/password-reset',
    {
      schema: {
        operationId: 'accounts.requestPasswordReset',
        security: [],
        summary: 'Email a password-reset link',
        description:
          'Always 202, whether or not the address has an account. Without SMTP configured nothing is sent.',
        tags,
        body: PasswordResetBody,
        response: { 202: NoContent, ...errors(400, 429) },
      },
    },
    async (request, reply) => {
      await accounts.requestPasswordReset(request.body.email, originOf(request));
      return reply.code(202).send(null);
    },
  );

  app.post(
    '/auth/password-reset/confirm',
    {
      schema: {
        operationId: 'accounts.confirmPasswordReset',
        security: [],
        summary: 'Set a new password with a reset link',
        tags,
        body: PasswordResetConfirmBody,
        response: { 204: NoContent, ...errors(400) },
      },
    },
    async (request, reply) => {
      await accounts.confirmPasswordReset(
        { token: request.body.token, newPassword: request.body.new_password },
        originOf(request),
      );
      return reply.code(204).send(null);
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
        user: { ...userView(session.user), two_factor_enabled: session.twoFactor },
        csrf_token: session.csrfToken,
        workspaces: await accounts.workspacesOf(session.user.id),
      };
    },
  );

  await app.register(meRoutes, { access, accounts });
};
