import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { iso } from '../clock.js';
import type { Access } from '../http/access.js';
import { contextOf } from '../http/context.js';
import { requestMeta } from '../http/request-meta.js';
import { bothPaths, errors, listOf, NoContent, PageQuery, SlugParams } from '../http/schemas.js';
import type { Services } from '../services.js';
import {
  CreateWorkspaceBody,
  DeleteWorkspaceBody,
  DeleteWorkspaceParams,
  SettingsBody,
  SettingsPatchBody,
  WorkspaceBody,
} from './schemas.js';
import { settingsOf, type Workspace } from './service.js';

const settingsBody = (ws: Workspace) => ({ ...settingsOf(ws), created_at: iso(ws.created_at) });

export function registerWorkspaceRoutes(app: FastifyInstance, services: Services, access: Access): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { workspaces } = services;

  r.post(
    '/v1/workspaces',
    {
      schema: {
        tags: ['workspaces'],
        body: CreateWorkspaceBody,
        response: { 201: WorkspaceBody, ...errors(400, 401, 403, 409) },
      },
      onRequest: access.session(),
    },
    async (request, reply) => {
      const principal = request.principal;
      if (principal?.type !== 'session') throw new Error('session route without a session');
      const ws = await workspaces.create(principal.user, request.body, requestMeta(request));
      return reply
        .code(201)
        .send({ id: ws.id, name: ws.name, slug: ws.slug, role: 'owner', created_at: iso(ws.created_at) });
    },
  );

  r.get(
    '/v1/workspaces',
    {
      schema: {
        tags: ['workspaces'],
        querystring: PageQuery,
        response: { 200: listOf(WorkspaceBody), ...errors(400, 401, 403) },
      },
      onRequest: access.session(),
    },
    async (request) => {
      const principal = request.principal;
      if (principal?.type !== 'session') throw new Error('session route without a session');
      const { page = 1, per_page = 25 } = request.query;
      const { rows, total } = await workspaces.listForUser(principal.user.id, page, per_page);
      return {
        data: rows.map((ws) => ({
          id: ws.id,
          name: ws.name,
          slug: ws.slug,
          role: ws.role,
          created_at: iso(ws.created_at),
        })),
        meta: { page, per_page, total },
      };
    },
  );

  for (const url of bothPaths('/settings')) {
    r.get(
      url,
      {
        schema: {
          tags: ['settings'],
          params: SlugParams,
          response: { 200: SettingsBody, ...errors(401, 403, 404, 429) },
        },
        onRequest: access.workspace('settings.read'),
      },
      async (request) => settingsBody(contextOf(request).workspace),
    );

    r.patch(
      url,
      {
        schema: {
          tags: ['settings'],
          params: SlugParams,
          body: SettingsPatchBody,
          response: { 200: SettingsBody, ...errors(400, 401, 403, 404, 409, 422, 429) },
        },
        onRequest: access.workspace('settings.write'),
      },
      async (request) => {
        const ctx = contextOf(request);
        const updated = await workspaces.updateSettings(
          ctx.workspace,
          ctx.principal,
          request.body,
          requestMeta(request),
        );
        return settingsBody(updated);
      },
    );
  }

  r.delete(
    '/v1/workspaces/:slug',
    {
      schema: {
        tags: ['workspaces'],
        params: DeleteWorkspaceParams,
        body: DeleteWorkspaceBody,
        response: { 204: NoContent, ...errors(400, 401, 403, 404, 429) },
      },
      onRequest: access.workspace('workspace.delete'),
    },
    async (request, reply) => {
      await workspaces.remove(contextOf(request).workspace, request.body.confirm);
      return reply.code(204).send(null);
    },
  );
}
