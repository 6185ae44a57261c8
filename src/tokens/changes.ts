import type { AuditService, Changes, RequestMeta } from '../audit/service.js';
import { actorFor, type SystemContext, type WorkspaceContext } from '../auth/context.js';
import type { Notice } from '../cluster/notifier.js';
import type { TokensTable, Tx } from '../db/schema.js';
import type { EventName } from '../events/catalog.js';
import type { EventOutbox } from '../events/outbox.js';
import { tokenStatus } from './status.js';
import { tokenView } from './view.js';

/**
 * Every node's verify cache drops these secrets (a remembered miss, a revoked or rotated secret),
 * and every change stream of the workspace tells its verifiers the tokens' answers may have changed.
 */
export const tokenChanged = (workspaceId: string, tokenIds: string[], digests: string[]): Notice => ({
  type: 'token.changed',
  digests,
  workspaceId,
  tokenIds,
});

/** Who acts on a token: a caller, or the system (a leak report has no caller). */
export type Acting = WorkspaceContext | SystemContext;

/** What every change of a token writes inside its transaction: the row change, its entry and event. */
export function createTokenChanges({ audit, outbox }: { audit: AuditService; outbox: EventOutbox }) {
  /**
   * The audit entry and the webhook event (which carries the token object) of one change. One
   * after the other, never concurrently: statements of a transaction that fails must not run
   * after its rollback, where they would commit on their own.
   */
  const record = async (
    tx: Tx,
    ctx: Acting,
    change: { event: EventName; row: TokensTable; at: number; meta: RequestMeta },
    extra: Record<string, string>,
    changes: Changes | null,
  ) => {
    await audit.record(tx, {
      workspaceId: ctx.workspace.id,
      event: change.event,
      actor: actorFor(ctx),
      target: { type: 'token', id: change.row.id, name: change.row.name },
      changes,
      meta: change.meta,
    });
    await outbox.emit(tx, {
      workspaceId: ctx.workspace.id,
      event: change.event,
      data: { ...tokenView(change.row, change.at), ...extra },
      at: change.at,
    });
  };

  const secretsOf = async (tx: Tx, tokenId: string) =>
    (await tx.selectFrom('token_secrets').select('digest').where('token_id', '=', tokenId).execute()).map(
      (s) => s.digest,
    );

  /** Marks a token revoked inside `tx` (taking its row lock); false when it already was. */
  const markRevoked = async (tx: Tx, tokenId: string, now: number) => {
    const updated = await tx
      .updateTable('tokens')
      .set({ revoked_at: now })
      .where('id', '=', tokenId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(updated.numUpdatedRows) > 0;
  };

  /** The entry and event of a revocation just marked, and the notices for every node's caches. */
  const recordRevoked = async (tx: Tx, by: Acting, row: TokensTable, now: number, meta: RequestMeta) => {
    const revokedAt = new Date(now).toISOString();
    // Expired tokens may be revoked too: the entry names the status really replaced.
    const was = tokenStatus({ revokedAt: null, expiresAt: row.expires_at }, now);
    await record(
      tx,
      by,
      { event: 'token.revoked', row: { ...row, revoked_at: now }, at: now, meta },
      { revoked_at: revokedAt },
      { status: { from: was, to: 'revoked' }, revoked_at: { from: null, to: revokedAt } },
    );
    return [tokenChanged(row.workspace_id, [row.id], await secretsOf(tx, row.id))];
  };

  return { record, secretsOf, markRevoked, recordRevoked };
}
