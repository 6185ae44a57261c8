import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Access } from '../http/access.js';
import { sessionOf } from '../http/context.js';
import { requestMeta } from '../http/request-meta.js';
import { errors, IdParam, NoContent } from '../http/schemas.js';
import { setSessionCookie } from '../http/session-cookie.js';
import {
  ChangePasswordBody,
  RecoveryCodesBody,
  SessionListBody,
  TwoFactorConfirmBody,
  TwoFactorDisableBody,
  TwoFactorSetupBody,
} from './schemas.js';
import type { AccountService } from './service.js';

/** The signed-in person's own account: password, two-factor and sessions (dashboard sessions only). */
export const meRoutes: FastifyPluginAsyncTypebox<{ access: Access; accounts: AccountService }> = async (
  app,
  { access, accounts },
) => {
  const tags = ['accounts'];
  const session = [{ session: [] }];
  const meta = (request: Parameters<typeof requestMeta>[0]) => ({ ...requestMeta(request), ip: request.ip });

  app.post(
    '/me/password',
    {
      schema: {
        operationId: 'me.changePassword',
        security: session,
        summary: 'Change your password (ends your other sessions)',
        tags,
        body: ChangePasswordBody,
        response: { 204: NoContent, ...errors(400, 401, 403, 429) },
      },
      onRequest: access.session(),
    },
    async (request, reply) => {
      const me = sessionOf(request);
      const { current_password: currentPassword, new_password: newPassword } = request.body;
      await accounts.changePassword(
        me.user,
        { currentPassword, newPassword, keepSession: me.digest },
        meta(request),
      );
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/me/two-factor',
    {
      schema: {
        operationId: 'me.beginTwoFactor',
        security: session,
        summary: 'Start two-factor enrolment (a new TOTP secret, pending until confirmed)',
        tags,
        response: { 200: TwoFactorSetupBody, ...errors(401, 403, 409) },
      },
      onRequest: access.session(),
    },
    async (request) => accounts.beginTwoFactor(sessionOf(request).user),
  );

  app.post(
    '/me/two-factor/confirm',
    {
      schema: {
        operationId: 'me.confirmTwoFactor',
        security: session,
        summary: 'Turn two-factor on with a code; returns the recovery codes once',
        tags,
        body: TwoFactorConfirmBody,
        response: { 200: RecoveryCodesBody, ...errors(400, 401, 403, 409, 429) },
      },
      onRequest: access.session(),
    },
    async (request) => ({
      recovery_codes: await accounts.confirmTwoFactor(
        sessionOf(request).user,
        request.body.code,
        meta(request),
      ),
    }),
  );

  app.delete(
    '/me/two-factor',
    {
      schema: {
        operationId: 'me.disableTwoFactor',
        security: session,
        summary: 'Turn two-factor off (password and a code or recovery code)',
        tags,
        body: TwoFactorDisableBody,
        response: { 204: NoContent, ...errors(400, 401, 403, 409, 429) },
      },
      onRequest: access.session(),
    },
    async (request, reply) => {
      await accounts.disableTwoFactor(sessionOf(request).user, request.body, meta(request));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me/sessions',
    {
      schema: {
        operationId: 'me.listSessions',
        security: session,
        summary: 'List your sessions',
        tags,
        response: { 200: SessionListBody, ...errors(401, 403) },
      },
      onRequest: access.session(),
    },
    async (request) => {
      const me = sessionOf(request);
      return { data: await accounts.listSessions(me.user.id, me.digest) };
    },
  );

  app.delete(
    '/me/sessions/:id',
    {
      schema: {
        operationId: 'me.endSession',
        security: session,
        summary: 'End one of your sessions',
        tags,
        params: Type.Object({ id: IdParam }),
        response: { 204: NoContent, ...errors(401, 403, 404) },
      },
      onRequest: access.session(),
    },
    async (request, reply) => {
      const me = sessionOf(request);
      const { wasCurrent } = await accounts.endSession(me.user.id, request.params.id, me.digest);
      if (wasCurrent) setSessionCookie(request, reply, '', 0);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/me/sessions/revoke-others',
    {
      schema: {
        operationId: 'me.endOtherSessions',
        security: session,
        summary: 'Sign out everywhere else (every session but this one)',
        tags,
        response: { 204: NoContent, ...errors(401, 403) },
      },
      onRequest: access.session(),
    },
    async (request, reply) => {
      const me = sessionOf(request);
      await accounts.endOtherSessions(me.user.id, me.digest);
      return reply.code(204).send(null);
    },
  );
};
