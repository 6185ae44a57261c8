import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Access } from '../http/access.js';
import { contextOf } from '../http/context.js';
import { requestMeta } from '../http/request-meta.js';
import { errors, IdParam, operation, paramsFor, type WorkspacePrefix } from '../http/schemas.js';
import { TokenBody } from './schemas.js';
import type { TokenService } from './service.js';
import { BulkRevokeBody, BulkRevokeResponse, UpdateTokenBody } from './update-schemas.js';

export interface TokenUpdateRouteOptions {
  prefix: WorkspacePrefix;
  access: Access;
  tokens: TokenService;
}

/** `PATCH /tokens/{id}` and `POST /tokens/revoke` (docs/tokens.md#update, docs/tokens.md#bulk-revoke). */
export const tokenUpdateRoutes: FastifyPluginAsyncTypebox<TokenUpdateRouteOptions> = async (app, opts) => {
  const { access, tokens } = opts;
  const tags = ['tokens'];

  app.patch(
    '/tokens/:id',
    {
      schema: {
        ...operation(opts.prefix, 'tokens.update', 'Update a token'),
        tags,
        params: paramsFor(opts.prefix, { id: IdParam }),
        body: UpdateTokenBody,
        response: { 200: TokenBody, ...errors(400, 401, 403, 404, 409, 422, 429) },
      },
      // Updating needs what creating needs: scope tokens:write, or the Owner or Admin role.
      onRequest: access.workspace('tokens.create'),
    },
    async (request) =>
      tokens.update(contextOf(request), request.params.id, request.body, requestMeta(request)),
  );

  app.post(
    '/tokens/revoke',
    {
      schema: {
        ...operation(opts.prefix, 'tokens.revokeMany', 'Revoke several tokens'),
        tags,
        params: paramsFor(opts.prefix, {}),
        body: BulkRevokeBody,
        response: { 200: BulkRevokeResponse, ...errors(400, 401, 403, 404, 429) },
      },
      onRequest: access.workspace('tokens.revoke'),
    },
    async (request) => ({
      revoked: await tokens.revokeMany(contextOf(request), request.body, requestMeta(request)),
    }),
  );
};
