import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Access } from '../http/access.js';
import { contextOf, sessionOf } from '../http/context.js';
import { listBody, pageOf } from '../http/pagination.js';
import { requestMeta } from '../http/request-meta.js';
import {
  errors,
  IdParam,
  listOf,
  NoContent,
  operation,
  PageQuery,
  paramsFor,
  type WorkspacePrefix,
} from '../http/schemas.js';
import { AcceptBody, AcceptedBody, CreateInvitationBody, InvitationBody } from './schemas.js';
import type { InvitationService } from './service.js';

export interface InvitationRouteOptions {
  prefix: WorkspacePrefix;
  access: Access;
  invitations: InvitationService;
}

/** Pending invitations of a workspace: every member reads them, Owners invite and revoke. */
export const invitationRoutes: FastifyPluginAsyncTypebox<InvitationRouteOptions> = async (app, opts) => {
  const { access, invitations } = opts;
  const params = paramsFor(opts.prefix, {});
  const tags = ['invitations'];

  app.get(
    '/invitations',
    {
      schema: {
        ...operation(opts.prefix, 'invitations.list', 'List pending invitations'),
        tags,
        params,
        querystring: PageQuery,
        response: { 200: listOf(InvitationBody), ...errors(400, 401, 403, 404, 429) },
      },
      onRequest: access.workspace('members.read'),
    },
    async (request) => {
      const page = pageOf(request.query);
      return listBody(await invitations.list(contextOf(request), page), page);
    },
  );

  app.post(
    '/invitations',
    {
      schema: {
        ...operation(opts.prefix, 'invitations.create', 'Invite someone by email'),
        tags,
        params,
        body: CreateInvitationBody,
        response: { 201: InvitationBody, ...errors(400, 401, 403, 404, 409, 429) },
      },
      onRequest: access.workspace('members.manage'),
    },
    async (request, reply) =>
      reply.code(201).send(await invitations.create(contextOf(request), request.body, requestMeta(request))),
  );

  app.delete(
    '/invitations/:id',
    {
      schema: {
        ...operation(opts.prefix, 'invitations.revoke', 'Revoke a pending invitation'),
        tags,
        params: paramsFor(opts.prefix, { id: IdParam }),
        response: { 204: NoContent, ...errors(401, 403, 404, 429) },
      },
      onRequest: access.workspace('members.manage'),
    },
    async (request, reply) => {
      await invitations.revoke(contextOf(request), request.params.id, requestMeta(request));
      return reply.code(204).send(null);
    },
  );
};

/** Accepting a link: the signed-in person joins the workspace (under `/v1` only). */
export const acceptInvitationRoutes: FastifyPluginAsyncTypebox<{
  access: Access;
  invitations: InvitationService;
}> = async (app, { access, invitations }) => {
  app.post(
    '/invitations/accept',
    {
      schema: {
        operationId: 'invitations.accept',
        security: [{ session: [] }],
        summary: 'Accept an invitation',
        tags: ['invitations'],
        body: AcceptBody,
        response: { 200: AcceptedBody, ...errors(400, 401, 403, 404, 409) },
      },
      onRequest: access.session(),
    },
    async (request) => ({
      workspace: await invitations.accept(sessionOf(request), request.body.token, requestMeta(request)),
    }),
  );
};
