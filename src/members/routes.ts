import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Access } from '../http/access.js';
import { contextOf } from '../http/context.js';
import { listBody, pageOf } from '../http/pagination.js';
import { requestMeta } from '../http/request-meta.js';
import {
  errors,
  listOf,
  NoContent,
  operation,
  PageQuery,
  paramsFor,
  type WorkspacePrefix,
} from '../http/schemas.js';
import { ChangeRoleBody, MemberBody } from './schemas.js';
import type { MemberService } from './service.js';

export interface MemberRouteOptions {
  prefix: WorkspacePrefix;
  access: Access;
  members: MemberService;
}

export const memberRoutes: FastifyPluginAsyncTypebox<MemberRouteOptions> = async (app, opts) => {
  const { access, members } = opts;
  const params = paramsFor(opts.prefix, {});
  const memberParams = paramsFor(opts.prefix, { user_id: Type.String({ maxLength: 100 }) });
  const tags = ['members'];

  app.get(
    '/members',
    {
      schema: {
        ...operation(opts.prefix, 'members.list', 'List members'),
        tags,
        params,
        querystring: PageQuery,
        response: { 200: listOf(MemberBody), ...errors(400, 401, 403, 404, 429) },
      },
      onRequest: access.workspace('members.read'),
    },
    async (request) => {
      const page = pageOf(request.query);
      return listBody(await members.list(contextOf(request), page), page);
    },
  );

  app.patch(
    '/members/:user_id',
    {
      schema: {
        ...operation(opts.prefix, 'members.setRole', 'Change a member’s role'),
        tags,
        params: memberParams,
        body: ChangeRoleBody,
        response: { 200: MemberBody, ...errors(400, 401, 403, 404, 409, 429) },
      },
      onRequest: access.workspace('members.manage'),
    },
    async (request) =>
      members.changeRole(contextOf(request), request.params.user_id, request.body.role, requestMeta(request)),
  );

  // Owners remove anyone; every member may remove themself (leave). The service checks which.
  app.delete(
    '/members/:user_id',
    {
      schema: {
        ...operation(opts.prefix, 'members.remove', 'Remove a member, or leave'),
        tags,
        params: memberParams,
        response: { 204: NoContent, ...errors(401, 403, 404, 409, 429) },
      },
      onRequest: access.workspace('members.read'),
    },
    async (request, reply) => {
      await members.remove(contextOf(request), request.params.user_id, requestMeta(request));
      return reply.code(204).send(null);
    },
  );
};
