import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { iso } from '../clock.js';
import type { Access } from '../http/access.js';
import { contextOf } from '../http/context.js';
import { requestMeta } from '../http/request-meta.js';
import { bothPaths, errors, listOf, NoContent, PageQuery, SlugParams } from '../http/schemas.js';
import type { InvitationView } from '../invitations/service.js';
import type { Services } from '../services.js';
import {
  AcceptBody,
  AcceptedBody,
  ChangeRoleBody,
  CreateInvitationBody,
  InvitationBody,
  InvitationParams,
  MemberBody,
  MemberParams,
} from './schemas.js';
import type { MemberView } from './service.js';

const memberBody = (m: MemberView) => ({ ...m, joined_at: iso(m.joined_at) });
const invitationBody = (i: InvitationView) => ({
  ...i,
  expires_at: iso(i.expires_at),
  created_at: iso(i.created_at),
});

export function registerMemberRoutes(app: FastifyInstance, services: Services, access: Access): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { members, invitations } = services;

  for (const url of bothPaths('/members')) {
    r.get(
      url,
      {
        schema: {
          tags: ['members'],
          params: SlugParams,
          querystring: PageQuery,
          response: { 200: listOf(MemberBody), ...errors(400, 401, 403, 404, 429) },
        },
        onRequest: access.workspace('members.read'),
      },
      async (request) => {
        const { page = 1, per_page = 25 } = request.query;
        const { rows, total } = await members.list(contextOf(request).workspace.id, page, per_page);
        return { data: rows.map(memberBody), meta: { page, per_page, total } };
      },
    );
  }

  for (const url of bothPaths('/members/:user_id')) {
    r.patch(
      url,
      {
        schema: {
          tags: ['members'],
          params: MemberParams,
          body: ChangeRoleBody,
          response: { 200: MemberBody, ...errors(400, 401, 403, 404, 409, 429) },
        },
        onRequest: access.workspace('members.manage'),
      },
      async (request) => {
        const ctx = contextOf(request);
        return memberBody(
          await members.changeRole(ctx, request.params.user_id, request.body.role, requestMeta(request)),
        );
      },
    );

    // Owners remove anyone; every member may remove themself (leave). The service checks which.
    r.delete(
      url,
      {
        schema: {
          tags: ['members'],
          params: MemberParams,
          response: { 204: NoContent, ...errors(401, 403, 404, 409, 429) },
        },
        onRequest: access.workspace('members.read'),
      },
      async (request, reply) => {
        await members.remove(contextOf(request), request.params.user_id, requestMeta(request));
        return reply.code(204).send(null);
      },
    );
  }

  for (const url of bothPaths('/invitations')) {
    r.get(
      url,
      {
        schema: {
          tags: ['invitations'],
          params: SlugParams,
          querystring: PageQuery,
          response: { 200: listOf(InvitationBody), ...errors(400, 401, 403, 404, 429) },
        },
        onRequest: access.workspace('members.read'),
      },
      async (request) => {
        const { page = 1, per_page = 25 } = request.query;
        const { rows, total } = await invitations.list(contextOf(request), page, per_page);
        return { data: rows.map(invitationBody), meta: { page, per_page, total } };
      },
    );

    r.post(
      url,
      {
        schema: {
          tags: ['invitations'],
          params: SlugParams,
          body: CreateInvitationBody,
          response: { 201: InvitationBody, ...errors(400, 401, 403, 404, 409, 429) },
        },
        onRequest: access.workspace('members.manage'),
      },
      async (request, reply) => {
        const invitation = await invitations.create(contextOf(request), request.body, requestMeta(request));
        return reply.code(201).send(invitationBody(invitation));
      },
    );
  }

  for (const url of bothPaths('/invitations/:id')) {
    r.delete(
      url,
      {
        schema: {
          tags: ['invitations'],
          params: InvitationParams,
          response: { 204: NoContent, ...errors(401, 403, 404, 429) },
        },
        onRequest: access.workspace('members.manage'),
      },
      async (request, reply) => {
        await invitations.revoke(contextOf(request), request.params.id, requestMeta(request));
        return reply.code(204).send(null);
      },
    );
  }

  r.post(
    '/v1/invitations/accept',
    {
      schema: {
        tags: ['invitations'],
        body: AcceptBody,
        response: { 200: AcceptedBody, ...errors(400, 401, 403, 404, 409) },
      },
      onRequest: access.session(),
    },
    async (request) => {
      const session = request.principal;
      if (session?.type !== 'session') throw new Error('session route without a session');
      return { workspace: await invitations.accept(session, request.body.token, requestMeta(request)) };
    },
  );
}
