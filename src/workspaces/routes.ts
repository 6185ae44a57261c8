import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Access } from '../http/access.js';
import { contextOf, sessionOf } from '../http/context.js';
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
import {
  CreateWorkspaceBody,
  DeleteWorkspaceBody,
  SettingsBody,
  SettingsPatchBody,
  WorkspaceBody,
} from './schemas.js';
import type { WorkspaceService } from './service.js';
import { settingsView } from './view.js';

/** The signed-in person's workspaces: create, list, delete (dashboard sessions, under `/v1`). */
export const workspaceRoutes: FastifyPluginAsyncTypebox<{
  access: Access;
  workspaces: WorkspaceService;
}> = async (app, { access, workspaces }) => {
  const tags = ['workspaces'];

  app.post(
    '/workspaces',
    {
      schema: {
        operationId: 'workspaces.create',
        security: [{ session: [] }],
        summary: 'Create a workspace',
        tags,
        body: CreateWorkspaceBody,
        response: { 201: WorkspaceBody, ...errors(400, 401, 403, 409, 429) },
      },
      onRequest: access.session(),
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(await workspaces.create(sessionOf(request).user, request.body, requestMeta(request))),
  );

  app.get(
    '/workspaces',
    {
      schema: {
        operationId: 'workspaces.list',
        security: [{ session: [] }],
        summary: 'List your workspaces',
        tags,
        querystring: PageQuery,
        response: { 200: listOf(WorkspaceBody), ...errors(400, 401, 403) },
      },
      onRequest: access.session(),
    },
    async (request) => {
      const page = pageOf(request.query);
      return listBody(await workspaces.listForUser(sessionOf(request).user.id, page), page);
    },
  );

  app.delete(
    '/workspaces/:slug',
    {
      schema: {
        operationId: 'workspaces.delete',
        security: [{ session: [] }],
        summary: 'Delete a workspace and everything in it',
        tags,
        params: Type.Object({ slug: Type.String({ maxLength: 200 }) }),
        body: DeleteWorkspaceBody,
        response: { 204: NoContent, ...errors(400, 401, 403, 404, 429) },
      },
      onRequest: access.workspace('workspace.delete'),
    },
    async (request, reply) => {
      await workspaces.remove(contextOf(request), request.body.confirm);
      return reply.code(204).send(null);
    },
  );
};

export interface SettingsRouteOptions {
  prefix: WorkspacePrefix;
  access: Access;
  workspaces: WorkspaceService;
}

/** A workspace's settings: every member reads them, Owners change them. */
export const settingsRoutes: FastifyPluginAsyncTypebox<SettingsRouteOptions> = async (app, opts) => {
  const { access, workspaces } = opts;
  const params = paramsFor(opts.prefix, {});
  const tags = ['settings'];

  app.get(
    '/settings',
    {
      schema: {
        ...operation(opts.prefix, 'settings.get', 'Read the workspace settings'),
        tags,
        params,
        response: { 200: SettingsBody, ...errors(401, 403, 404, 429) },
      },
      onRequest: access.workspace('settings.read'),
    },
    async (request) => settingsView(contextOf(request).workspace),
  );

  app.patch(
    '/settings',
    {
      schema: {
        ...operation(opts.prefix, 'settings.update', 'Change workspace settings'),
        tags,
        params,
        body: SettingsPatchBody,
        response: { 200: SettingsBody, ...errors(400, 401, 403, 404, 409, 422, 429) },
      },
      onRequest: access.workspace('settings.write'),
    },
    async (request) => workspaces.updateSettings(contextOf(request), request.body, requestMeta(request)),
  );
};
