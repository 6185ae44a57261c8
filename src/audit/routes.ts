import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { badField } from '../errors.js';
import type { Access } from '../http/access.js';
import { contextOf } from '../http/context.js';
import { listBody } from '../http/pagination.js';
import { errors, operation, paramsFor, type WorkspacePrefix } from '../http/schemas.js';
import { exportFilename } from './export.js';
import { filterOf } from './filter.js';
import type { AuditLog } from './log.js';
import { AuditListBody, AuditQuery, ChainReportBody, ExportQuery } from './schemas.js';

export interface AuditRouteOptions {
  prefix: WorkspacePrefix;
  access: Access;
  auditLog: AuditLog;
}

export const auditRoutes: FastifyPluginAsyncTypebox<AuditRouteOptions> = async (app, opts) => {
  const { access, auditLog } = opts;
  const params = paramsFor(opts.prefix, {});
  const tags = ['audit'];

  app.get(
    '/audit-logs',
    {
      schema: {
        ...operation(opts.prefix, 'audit.list', 'Read the audit log'),
        tags,
        params,
        querystring: AuditQuery,
        response: { 200: AuditListBody, ...errors(400, 401, 403, 404, 422, 429) },
      },
      onRequest: access.workspace('audit.read'),
    },
    async (request) => {
      const ctx = contextOf(request);
      const q = request.query;
      const filter = filterOf(q);
      if (q.cursor !== undefined || q.limit !== undefined) {
        if (q.page !== undefined || q.per_page !== undefined) {
          throw badField('cursor', 'use either cursor/limit or page/per_page, not both');
        }
        const limit = q.limit ?? 100;
        const { rows, nextCursor } = await auditLog.afterCursor(ctx, filter, q.cursor, limit);
        return { data: rows, meta: { limit, next_cursor: nextCursor } };
      }
      const page = { page: q.page ?? 1, perPage: q.per_page ?? 25 };
      return listBody(await auditLog.page(ctx, filter, page), page);
    },
  );

  app.get(
    '/audit-logs/export',
    {
      schema: {
        ...operation(opts.prefix, 'audit.export', 'Export the audit log as CSV'),
        tags,
        params,
        querystring: ExportQuery,
        response: {
          200: {
            description: 'The entries, oldest first, as RFC 4180 CSV',
            content: { 'text/csv': { schema: { type: 'string' } } },
          },
          ...errors(400, 401, 403, 404, 422, 429),
        },
      },
      onRequest: access.workspace('audit.read'),
    },
    async (request, reply) => {
      const ctx = contextOf(request);
      const filter = filterOf(request.query);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${exportFilename(ctx.workspace.slug, filter)}"`)
        .send(Readable.from(auditLog.exportCsv(ctx, filter)) as never);
    },
  );

  app.get(
    '/audit-logs/verify',
    {
      schema: {
        ...operation(opts.prefix, 'audit.verify', 'Verify the audit hash chain'),
        tags,
        params,
        response: { 200: ChainReportBody, ...errors(401, 403, 404, 429) },
      },
      onRequest: access.workspace('audit.verify'),
    },
    async (request) => auditLog.verify(contextOf(request)),
  );
};
