import type { WorkspaceContext } from '../auth/context.js';
import type { PageOf, PageRequest } from '../db/paginate.js';
import type { Db } from '../db/schema.js';
import { auditCsv } from './export.js';
import { localTimeFormatter } from './local-time.js';
import { type AuditFilter, listAfterCursor, listPage } from './query.js';
import { type ChainReport, verifyChain } from './verify-chain.js';
import { type AuditEntryView, auditEntryView } from './view.js';

/** Reading a workspace's audit log: pages, cursors, the CSV export and the chain check. */
export interface AuditLog {
  page(ctx: WorkspaceContext, filter: AuditFilter, page: PageRequest): Promise<PageOf<AuditEntryView>>;
  afterCursor(
    ctx: WorkspaceContext,
    filter: AuditFilter,
    cursor: string | undefined,
    limit: number,
  ): Promise<{ rows: AuditEntryView[]; nextCursor: string | null }>;
  exportCsv(ctx: WorkspaceContext, filter: AuditFilter): AsyncGenerator<string>;
  verify(ctx: WorkspaceContext): Promise<ChainReport>;
}

export function createAuditLog({ db }: { db: Db }): AuditLog {
  return {
    async page(ctx, filter, page) {
      const local = localTimeFormatter(ctx.workspace.timezone);
      const { rows, total } = await listPage(db, ctx.workspace.id, filter, page);
      return { rows: rows.map((row) => auditEntryView(row, local)), total };
    },
    async afterCursor(ctx, filter, cursor, limit) {
      const local = localTimeFormatter(ctx.workspace.timezone);
      const { rows, nextCursor } = await listAfterCursor(db, ctx.workspace.id, filter, cursor, limit);
      return { rows: rows.map((row) => auditEntryView(row, local)), nextCursor };
    },
    exportCsv: (ctx, filter) => auditCsv(db, ctx.workspace, filter),
    verify: (ctx) => verifyChain(db, ctx.workspace.id),
  };
}
