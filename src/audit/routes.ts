import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { iso } from '../clock.js';
import { badField } from '../errors.js';
import type { Access } from '../http/access.js';
import { contextOf } from '../http/context.js';
import { bothPaths, errors, SlugParams } from '../http/schemas.js';
import type { Services } from '../services.js';
import { CSV_HEADER, csvRow } from './csv.js';
import { localTimeFormatter } from './local-time.js';
import { type AuditFilter, listAfterCursor, listPage, walkAscending } from './query.js';
import { AuditListBody, AuditQuery, ChainReportBody, ExportQuery } from './schemas.js';
import { verifyChain } from './verify-chain.js';
import { auditEntryView } from './view.js';

const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(T([01]\d|2[0-3]):\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** Whether a calendar date exists (`Date.parse` rolls 2026-02-30 over into March). */
function realDate(match: RegExpExecArray): boolean {
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(0);
  date.setUTCFullYear(y, m - 1, d);
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

function instant(field: 'from' | 'to', value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = ISO_INSTANT.exec(value);
  const ms = match !== null && realDate(match) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw badField(
      field,
      'must be a date (2026-01-15) or an ISO 8601 instant (2026-01-15T09:00:00Z)',
      'unprocessable_entity',
    );
  return ms;
}

const day = (ms: number | undefined) => (ms === undefined ? 'all' : iso(ms).slice(0, 10));

export function registerAuditRoutes(app: FastifyInstance, services: Services, access: Access): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = services;

  for (const url of bothPaths('/audit-logs')) {
    r.get(
      url,
      {
        schema: {
          tags: ['audit'],
          params: SlugParams,
          querystring: AuditQuery,
          response: { 200: AuditListBody, ...errors(400, 401, 403, 404, 422, 429) },
        },
        onRequest: access.workspace('audit.read'),
      },
      async (request) => {
        const { workspace } = contextOf(request);
        const q = request.query;
        const filter: AuditFilter = {
          from: instant('from', q.from),
          to: instant('to', q.to),
          events: q.event,
          actorId: q.actor_id,
          targetId: q.target_id,
        };
        const local = localTimeFormatter(workspace.timezone);
        if (q.cursor !== undefined || q.limit !== undefined) {
          if (q.page !== undefined || q.per_page !== undefined) {
            throw badField('cursor', 'use either cursor/limit or page/per_page, not both');
          }
          const limit = q.limit ?? 100;
          const { rows, nextCursor } = await listAfterCursor(db, workspace.id, filter, q.cursor, limit);
          return {
            data: rows.map((row) => auditEntryView(row, local)),
            meta: { limit, next_cursor: nextCursor },
          };
        }
        const page = q.page ?? 1;
        const perPage = q.per_page ?? 25;
        const { rows, total } = await listPage(db, workspace.id, filter, page, perPage);
        return {
          data: rows.map((row) => auditEntryView(row, local)),
          meta: { page, per_page: perPage, total },
        };
      },
    );
  }

  for (const url of bothPaths('/audit-logs/export')) {
    r.get(
      url,
      {
        schema: {
          tags: ['audit'],
          params: SlugParams,
          querystring: ExportQuery,
          response: {
            200: { type: 'string', description: 'text/csv' },
            ...errors(400, 401, 403, 404, 422, 429),
          },
        },
        onRequest: access.workspace('audit.read'),
      },
      async (request, reply) => {
        const { workspace } = contextOf(request);
        const filter: AuditFilter = {
          from: instant('from', request.query.from),
          to: instant('to', request.query.to),
        };
        const local = localTimeFormatter(workspace.timezone);
        // Rows are sent in chunks of about 64 KiB: one stream write per row would cost more than
        // the row itself. Memory stays bounded by one read batch plus one chunk.
        async function* lines() {
          let chunk = csvRow(CSV_HEADER);
          for await (const row of walkAscending(db, workspace.id, filter)) {
            if (chunk.length >= 65_536) {
              yield chunk;
              chunk = '';
            }
            chunk += csvRow([
              row.id,
              iso(row.created_at),
              local(row.created_at),
              row.event,
              row.actor_type,
              row.actor_id,
              row.actor_name,
              row.target_type,
              row.target_id,
              row.target_name,
              row.changes,
              row.ip,
              row.user_agent,
            ]);
          }
          yield chunk;
        }
        const filename = `tooken-audit-${workspace.slug}-${day(filter.from)}-${day(filter.to)}.csv`;
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${filename}"`)
          .send(Readable.from(lines()) as never);
      },
    );
  }

  for (const url of bothPaths('/audit-logs/verify')) {
    r.get(
      url,
      {
        schema: {
          tags: ['audit'],
          params: SlugParams,
          response: { 200: ChainReportBody, ...errors(401, 403, 404, 429) },
        },
        onRequest: access.workspace('audit.verify'),
      },
      async (request) => verifyChain(db, contextOf(request).workspace.id),
    );
  }
}
